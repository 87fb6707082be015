use super::*;

#[test]
fn os_release_families() {
    let ubuntu = "NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\n";
    assert!(linux_os(ubuntu) == Os::Debian);
    assert!(linux_os("ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n") == Os::Debian);
    assert!(linux_os("ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n") == Os::Fedora);
    assert!(linux_os("ID=arch\n") == Os::Arch);
    assert!(linux_os("ID=\"opensuse-tumbleweed\"\nID_LIKE=\"opensuse suse\"\n") == Os::OpenSuse);
    assert!(linux_os("ID=\"opensuse-leap\"\n") == Os::OpenSuse);
    assert!(linux_os("ID=alpine\n") == Os::OtherLinux);
    // `VERSION_ID=debian` must not count: only ID and ID_LIKE do.
    assert!(linux_os("ID=nixos\nVERSION_ID=debian\n") == Os::OtherLinux);
}

/// The policy script forbids exactly the held services; e.g. dbus, which
/// the keyring tests use, may still start.
#[cfg(unix)]
#[test]
fn policy_rc_d_holds_only_the_servers() {
    let dir = std::env::temp_dir().join(format!("xtask-policy-{}", std::process::id()));
    fs_err::create_dir_all(&dir).expect("temp dir");
    let script = dir.join("policy-rc.d");
    fs_err::write(&script, policy_rc_d()).expect("write the script");
    let code = |service: &str| {
        Command::new("sh")
            .arg(&script)
            .args([service, "start"])
            .status()
            .expect("sh runs")
            .code()
    };
    for held in HELD_SERVICES {
        assert_eq!(code(held), Some(101), "{held}");
    }
    assert_eq!(code("dbus"), Some(0));
    assert_eq!(code("apache2-doc"), Some(0));
    fs_err::remove_dir_all(&dir).expect("remove temp dir");
}

#[test]
fn dpkg_status_lines() {
    let out = "curl install ok installed\nunzip deinstall ok config-files\npkg-config:amd64 install ok installed\n";
    assert_eq!(
        not_installed(&["curl", "unzip", "pkg-config", "python3-venv"], out),
        ["unzip", "python3-venv"]
    );
}

/// Every pkg-config module setup checks for must be in the Fedora,
/// openSUSE and generic instructions in some form, and each OS's text
/// must hold its own package manager's command.
#[test]
fn instructions_name_each_systems_commands() {
    let fedora = instructions(Os::Fedora);
    assert!(fedora.starts_with("sudo dnf install -y "), "{fedora}");
    for pkg in [
        "webkit2gtk4.1-devel",
        "javascriptcoregtk4.1-devel",
        "libsoup3-devel",
        "librsvg2-devel",
        "libappindicator-gtk3-devel",
        "openssl-devel",
        "nodejs npm",
        "python3",
    ] {
        assert!(fedora.contains(pkg), "Fedora: {pkg} in {fedora}");
    }
    let arch = instructions(Os::Arch);
    assert!(arch.starts_with("sudo pacman -S --needed "), "{arch}");
    for pkg in [
        "webkit2gtk-4.1",
        "libsoup3",
        "librsvg",
        "libappindicator-gtk3",
        "openssl",
        "nodejs npm",
    ] {
        assert!(arch.contains(pkg), "Arch: {pkg} in {arch}");
    }
    let suse = instructions(Os::OpenSuse);
    assert!(suse.contains("sudo zypper install -y "), "{suse}");
    let generic = instructions(Os::OtherLinux);
    for names in LINUX_LIBRARIES {
        assert!(
            suse.contains(&format!("'pkgconfig({})'", names[0])),
            "openSUSE: {names:?}"
        );
        assert!(generic.contains(names[0]), "generic: {names:?}");
    }
    let mac = instructions(Os::Mac);
    assert!(mac.contains("\nxcode-select --install\n"), "{mac}");
    assert!(mac.contains("\nbrew install python@3.12 node\n"), "{mac}");
    let windows = instructions(Os::Windows);
    assert!(
        windows.contains("\nwinget install --id Microsoft.EdgeWebView2Runtime\n"),
        "{windows}"
    );
    assert!(
        windows.contains("\nwinget install --id OpenJS.NodeJS.LTS\n"),
        "{windows}"
    );
    assert!(
        windows.contains("Microsoft.VisualStudio.Workload.VCTools"),
        "{windows}"
    );
    for text in [&fedora, &arch, &suse, &mac, &windows, &generic] {
        assert!(text.ends_with("\nthen rerun `cargo xtask setup`"), "{text}");
        // Lines are commands to paste or `#` comments, never prose
        // glued onto a command.
        if !std::ptr::eq(text, &generic) {
            for line in text
                .lines()
                .filter(|l| !l.starts_with('#') && !l.starts_with("then"))
            {
                assert!(!line.contains(" ("), "{line:?} mixes a note into a command");
            }
        }
    }
}

#[test]
fn other_linuxes_are_checked_for_the_desktop_libraries_and_node() {
    // Nothing works: the tools are named; the libraries are not asked
    // about without pkg-config, nor venv without Python.
    let mut asked = Vec::new();
    let missing = missing_on(Os::Fedora, &mut |p| {
        asked.push(*p);
        false
    });
    assert!(
        !asked
            .iter()
            .any(|p| matches!(p, Probe::Library(_) | Probe::PythonVenv))
    );
    for tool in ["node", "npm", "pkg-config", "cc", "curl", "unzip"] {
        assert!(missing.iter().any(|m| m == tool), "{tool} in {missing:?}");
    }
    // Only the libraries are missing, and only webkit2gtk of the tools
    // named in the hint: either appindicator flavour is enough.
    let missing = missing_on(Os::Arch, &mut |p| match p {
        Probe::Library(names) => !names.contains(&"webkit2gtk-4.1") && names.len() == 2,
        _ => true,
    });
    assert_eq!(
        missing,
        [
            "webkit2gtk-4.1 (pkg-config)",
            "javascriptcoregtk-4.1 (pkg-config)",
            "libsoup-3.0 (pkg-config)",
            "librsvg-2.0 (pkg-config)",
            "openssl (pkg-config)",
            "dbus-1 (pkg-config)"
        ]
    );
    // macOS and Windows have no WebKitGTK to look for, but need node.
    for os in [Os::Mac, Os::Windows] {
        let probes = probes(os);
        assert!(
            !probes.iter().any(|p| matches!(p, Probe::Library(_))),
            "{os:?}"
        );
        assert!(
            probes.contains(&Probe::Tool("node", &["--version"])),
            "{os:?}"
        );
        assert!(
            probes.contains(&Probe::Tool("npm", &["--version"])),
            "{os:?}"
        );
    }
}
