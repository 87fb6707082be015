//! A stand-in for the system browser in the desktop app's end-to-end
//! suite: `xdg-open` runs it as `$BROWSER URL`. It plays a person on the
//! platform's sign-in page — signs in as `KEEPSAKE_FAKE_BROWSER_USER`
//! (default `alice`, with the demo password), approves, and follows the
//! redirect back to the app's loopback listener — as tests/engine/signin.rs
//! does in-process.

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: fake-browser URL");
        return ExitCode::from(2);
    };
    let login = std::env::var("KEEPSAKE_FAKE_BROWSER_USER").unwrap_or_else(|_| "alice".into());
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fake-browser: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(sign_in(&url, &login)) {
        Ok(status) => {
            eprintln!("fake-browser: the app's listener answered {status}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fake-browser: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn sign_in(authorize: &str, login: &str) -> anyhow::Result<u16> {
    let authorize = url::Url::parse(authorize)?;
    let http = keepsake_tests::client();
    let page = http.get(authorize.clone()).send().await?;
    anyhow::ensure!(page.status() == 200, "sign-in page: {}", page.status());
    let mut form: Vec<(String, String)> = authorize
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    form.push(("login".into(), login.into()));
    form.push(("password".into(), format!("{login}-demo-password")));
    form.push(("decision".into(), "approve".into()));
    let mut action = authorize;
    action.set_query(None);
    let answer = http.post(action).form(&form).send().await?;
    anyhow::ensure!(answer.status() == 302, "consent: {}", answer.status());
    let back = answer
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| anyhow::anyhow!("no redirect"))?
        .to_owned();
    Ok(http.get(back).send().await?.status().as_u16())
}
