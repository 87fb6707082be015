//! Tests of `oauth`.

use super::*;

#[test]
fn callback_checks_state_before_anything_else() {
    let sent = CsrfToken::new("right".into());
    let answer = |q: &str| {
        check_callback(
            &Url::parse(&format!("http://127.0.0.1:1/callback?{q}")).expect("url"),
            &sent,
        )
        .map_err(|e| e.to_string())
    };
    assert_eq!(answer("code=c&state=right").ok().as_deref(), Some("c"));
    assert!(
        answer("code=c&state=wrong")
            .expect_err("mismatch")
            .contains("state did not match")
    );
    assert!(
        answer("code=c")
            .expect_err("missing")
            .contains("state did not match")
    );
    assert!(
        answer("error=access_denied&state=wrong")
            .expect_err("mismatch")
            .contains("state did not match")
    );
    assert!(
        answer("error=access_denied&state=right")
            .expect_err("denied")
            .contains("you declined")
    );
    assert!(
        answer("error=invalid_scope&error_description=nope&state=right")
            .expect_err("refused")
            .contains("invalid_scope: nope")
    );
    assert!(
        answer("state=right")
            .expect_err("no code")
            .contains("without an authorization code")
    );
}
