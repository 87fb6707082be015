//! The IPC's names, checked across the files that must agree on them:
//! the `#[tauri::command]` functions in `commands.rs`, the handler list in
//! `lib.rs`, the ACL's command list in `build.rs`, the grants in
//! `capabilities/default.json`, and the UI's `invoke` calls in
//! `ui/src/lib/api.ts`. Any of them is typed by hand; a drift shows up in
//! the real app only as a command that is "not allowed", "not found", or
//! missing an argument, so these tests read the sources and compare.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn source(rel: &str) -> String {
    fs_err::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel))
        .expect("read a source file")
}

/// The text between `open` (which must occur once) and the first `close`
/// after it.
fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    let start = text.find(open).unwrap_or_else(|| panic!("no {open:?}")) + open.len();
    let len = text[start..]
        .find(close)
        .unwrap_or_else(|| panic!("no {close:?} after {open:?}"));
    &text[start..start + len]
}

/// Splits at commas that are not inside `<>`, `()`, `[]` or `{}`.
fn split_top_level(list: &str) -> Vec<&str> {
    let (mut depth, mut from, mut parts) = (0i32, 0, Vec::new());
    for (i, c) in list.char_indices() {
        match c {
            '<' | '(' | '[' | '{' => depth += 1,
            '>' | ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(list[from..i].trim());
                from = i + 1;
            }
            _ => {}
        }
    }
    parts.push(list[from..].trim());
    parts.retain(|p| !p.is_empty());
    parts
}

/// `on_event` → `onEvent`: Tauri's default for command arguments.
fn camel_case(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Each command in `commands.rs` and the keys the webview must send: its
/// arguments, camelCased, leaving out what Tauri injects itself.
fn rust_commands() -> BTreeMap<String, BTreeSet<String>> {
    const INJECTED: &[&str] = &["State<", "AppHandle", "Window", "Webview", "Request<"];
    let text = source("src/commands.rs");
    let mut out = BTreeMap::new();
    for item in text.split("#[tauri::command]").skip(1) {
        let after_fn = &item[item.find("fn ").expect("a command is a fn") + 3..];
        let name_end = after_fn
            .find(['<', '('])
            .expect("a command's name ends at its generics or arguments");
        let name = after_fn[..name_end].trim().to_string();
        // The arguments: from the `(` after the name to its matching `)`.
        let open = after_fn.find('(').expect("arguments");
        let mut depth = 0;
        let close = after_fn[open..]
            .char_indices()
            .find_map(|(i, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(open + i)
            })
            .expect("closed arguments");
        let keys = split_top_level(&after_fn[open + 1..close])
            .into_iter()
            .filter_map(|arg| {
                let (name, ty) = arg.split_once(':').expect("name: Type");
                let ty = ty.trim();
                (!INJECTED.iter().any(|i| ty.starts_with(i))).then(|| camel_case(name.trim()))
            })
            .collect();
        assert!(
            out.insert(name.clone(), keys).is_none(),
            "{name} twice in commands.rs"
        );
    }
    assert!(!out.is_empty(), "no #[tauri::command] found in commands.rs");
    out
}

/// The commands in `lib.rs`'s `generate_handler![…]`.
fn handler_commands() -> Vec<String> {
    let text = source("src/lib.rs");
    split_top_level(between(&text, "generate_handler![", "]"))
        .into_iter()
        .map(|c| c.trim_start_matches("commands::").to_string())
        .collect()
}

/// `build.rs`'s `COMMANDS`, which tauri-build turns into `allow-…`
/// permissions.
fn acl_commands() -> Vec<String> {
    let text = source("build.rs");
    split_top_level(between(&text, "const COMMANDS: &[&str] = &[", "];"))
        .into_iter()
        .map(|c| c.trim_matches('"').to_string())
        .collect()
}

/// Each `invoke('name', { keys })` in api.ts, with the keys it sends.
fn ui_invokes() -> BTreeMap<String, BTreeSet<String>> {
    let text = source("../ui/src/lib/api.ts");
    let mut out = BTreeMap::new();
    for call in text.split("invoke(").skip(1) {
        let call = call.trim_start();
        let quote = call.chars().next().expect("a command name");
        assert!(
            quote == '\'' || quote == '"',
            "api.ts: invoke's first argument must be a string literal, so it can be checked: invoke({}",
            &call[..call.len().min(40)]
        );
        let name_len = call[1..].find(quote).expect("closed string");
        let name = call[1..1 + name_len].to_string();
        let rest = call[2 + name_len..].trim_start();
        let keys = if let Some(args) = rest.strip_prefix(',') {
            let args = args.trim_start();
            assert!(
                args.starts_with('{'),
                "api.ts: invoke('{name}', …) must pass an object literal"
            );
            split_top_level(&args[1..args.find('}').expect("closed object")])
                .into_iter()
                .map(|k| k.split(':').next().unwrap_or(k).trim().to_string())
                .collect()
        } else {
            BTreeSet::new()
        };
        assert!(
            out.insert(name.clone(), keys).is_none(),
            "api.ts invokes {name} twice"
        );
    }
    out
}

#[test]
fn every_command_is_registered_and_listed_for_the_acl_once() {
    let defined: Vec<String> = rust_commands().into_keys().collect();
    let mut handled = handler_commands();
    let mut acl = acl_commands();
    for (list, what) in [
        (&handled, "lib.rs's generate_handler!"),
        (&acl, "build.rs's COMMANDS"),
    ] {
        let unique: BTreeSet<_> = list.iter().collect();
        assert_eq!(unique.len(), list.len(), "a command twice in {what}");
    }
    handled.sort();
    acl.sort();
    assert_eq!(
        handled, defined,
        "lib.rs's generate_handler! differs from the commands in commands.rs"
    );
    assert_eq!(
        acl, defined,
        "build.rs's COMMANDS differs from the commands in commands.rs"
    );
}

#[test]
fn the_ui_invokes_each_command_with_its_argument_names() {
    let rust = rust_commands();
    let ui = ui_invokes();
    let only_rust: Vec<_> = rust.keys().filter(|c| !ui.contains_key(*c)).collect();
    let only_ui: Vec<_> = ui.keys().filter(|c| !rust.contains_key(*c)).collect();
    assert!(
        only_rust.is_empty() && only_ui.is_empty(),
        "api.ts and commands.rs disagree: never invoked by the UI {only_rust:?}, \
         invoked but not a command {only_ui:?}"
    );
    for (name, keys) in &rust {
        assert_eq!(
            &ui[name], keys,
            "api.ts's invoke('{name}', …) sends other keys than the command takes (camelCased)"
        );
    }
}

/// Plugin permissions the webview may hold. None: dialogs, notifications,
/// the browser and the file manager are all opened from Rust, and the UI
/// imports nothing but `@tauri-apps/api/core`. Add one here only with the
/// JS call that needs it.
const PLUGIN_PERMISSIONS: &[&str] = &[];

#[test]
fn the_capability_grants_exactly_the_apps_commands() {
    let text = source("capabilities/default.json");
    let cap: serde_json::Value = serde_json::from_str(&text).expect("capability JSON");
    assert_eq!(cap["identifier"], "default");
    assert_eq!(
        cap["windows"],
        serde_json::json!(["main"]),
        "main window only"
    );
    assert!(cap.get("webviews").is_none() && cap.get("remote").is_none());
    let granted: Vec<&str> = cap["permissions"]
        .as_array()
        .expect("a permissions list")
        .iter()
        .map(|p| p.as_str().expect("plain permission names, no scopes"))
        .collect();
    let (plugin, own): (Vec<&str>, Vec<&str>) = granted.into_iter().partition(|p| p.contains(':'));
    let extra: Vec<_> = plugin
        .iter()
        .filter(|p| !PLUGIN_PERMISSIONS.contains(p))
        .collect();
    assert!(
        extra.is_empty(),
        "capabilities/default.json grants plugin permissions the app does not use: {extra:?}"
    );
    let mut own: Vec<String> = own.into_iter().map(String::from).collect();
    own.sort();
    let mut want: Vec<String> = rust_commands()
        .keys()
        .map(|c| format!("allow-{}", c.replace('_', "-")))
        .collect();
    want.sort();
    assert_eq!(
        own, want,
        "capabilities/default.json must allow each command once, and nothing else"
    );
}

#[test]
fn the_parsers_read_what_they_claim() {
    assert_eq!(camel_case("on_event"), "onEvent");
    assert_eq!(
        split_top_level("a: State<'_, X>, b: Channel<Y>, c: (u8, u8),"),
        ["a: State<'_, X>", "b: Channel<Y>", "c: (u8, u8)"]
    );
    let rust = rust_commands();
    // Spot checks against hand-read signatures.
    assert_eq!(
        rust["start_export"],
        BTreeSet::from(["request".into(), "onEvent".into()])
    );
    assert!(rust["who_am_i"].is_empty());
    assert!(rust["choose_folder"].is_empty(), "AppHandle is injected");
    let ui = ui_invokes();
    assert_eq!(
        ui["start_export"],
        BTreeSet::from(["request".into(), "onEvent".into()])
    );
    assert_eq!(ui["cancel_export"], BTreeSet::from(["keep".into()]));
}
