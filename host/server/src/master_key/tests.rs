use std::os::unix::fs::PermissionsExt;

use super::*;

const HEX_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// The same 32 bytes as [`HEX_KEY`], in standard base64.
const B64_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn expected() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn env_value_in_hex_or_base64() {
    for value in [
        HEX_KEY,
        &HEX_KEY.to_uppercase(),
        B64_KEY,
        &format!("  {HEX_KEY}\n"),
        &format!("{B64_KEY}\n"),
    ] {
        assert_eq!(
            MasterKey::from_env_value(value).unwrap().expose(),
            &expected(),
            "{value:?}"
        );
    }
}

#[test]
fn env_value_errors_give_the_format_and_never_echo_the_value() {
    let hint = "64 hex characters or the standard base64 of 32 bytes (generate one with `openssl rand -hex 32`)";
    let cases = [
        (
            "",
            format!(
                "PAYHOOK_MASTER_KEY is set but empty: set it to {hint}, or unset it to use the key file"
            ),
        ),
        (
            " \n",
            format!(
                "PAYHOOK_MASTER_KEY is set but empty: set it to {hint}, or unset it to use the key file"
            ),
        ),
        (
            &HEX_KEY[..62],
            format!("PAYHOOK_MASTER_KEY is not a master key (62 hex characters): set it to {hint}"),
        ),
        (
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",
            format!(
                "PAYHOOK_MASTER_KEY is not a master key (base64 of 31 bytes): set it to {hint}"
            ),
        ),
        (
            "correct horse battery staple",
            format!(
                "PAYHOOK_MASTER_KEY is not a master key (28 characters, neither hex nor base64): set it to {hint}"
            ),
        ),
    ];
    for (value, message) in cases {
        let err = MasterKey::from_env_value(value).unwrap_err();
        assert_eq!(err.to_string(), message);
        if value.trim().len() > 4 {
            assert!(
                !err.to_string().contains(value.trim())
                    && !format!("{err:?}").contains(value.trim())
            );
        }
    }
    assert_eq!(
        MasterKeyError::EnvNotUnicode.to_string(),
        format!("PAYHOOK_MASTER_KEY is not valid text: set it to {hint}")
    );
}

#[test]
fn creates_a_key_file_with_mode_0600_then_reads_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payhook.db.key");
    let (created, source) = MasterKey::load_or_create_file(&path).unwrap();
    assert_eq!(source, KeySource::CreatedFile(path.clone()));
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.len(), 65);
    assert!(
        text.ends_with('\n')
            && text
                .trim_end()
                .bytes()
                .all(|b| b"0123456789abcdef".contains(&b))
    );
    // The file's contents are a valid PAYHOOK_MASTER_KEY value for the same key.
    assert_eq!(
        MasterKey::from_env_value(&text).unwrap().expose(),
        created.expose()
    );

    let (loaded, source) = MasterKey::load_or_create_file(&path).unwrap();
    assert_eq!(source, KeySource::ExistingFile(path.clone()));
    assert_eq!(loaded.expose(), created.expose());
}

#[test]
fn two_created_keys_differ() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = MasterKey::load_or_create_file(&dir.path().join("a.key")).unwrap();
    let (b, _) = MasterKey::load_or_create_file(&dir.path().join("b.key")).unwrap();
    assert_ne!(a.expose(), b.expose());
    assert_ne!(a.expose(), &[0; 32]);
}

#[test]
fn reads_a_key_file_of_mode_0600_or_narrower_in_either_format() {
    let dir = tempfile::tempdir().unwrap();
    for (name, contents, mode) in [
        ("hex", HEX_KEY, 0o600),
        ("b64", B64_KEY, 0o400),
        ("nl", "\n\n  ", 0o600),
    ] {
        let path = dir.path().join(name);
        let contents = if name == "nl" {
            format!("{HEX_KEY}{contents}")
        } else {
            contents.to_owned()
        };
        std::fs::write(&path, contents).unwrap();
        set_mode(&path, mode);
        let (key, source) = MasterKey::load_or_create_file(&path).unwrap();
        assert_eq!(key.expose(), &expected(), "{name}");
        assert_eq!(source, KeySource::ExistingFile(path));
    }
}

#[test]
fn refuses_a_key_file_others_can_read_or_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payhook.db.key");
    std::fs::write(&path, HEX_KEY).unwrap();
    for mode in [0o644, 0o640, 0o604, 0o660, 0o606, 0o700, 0o4600] {
        set_mode(&path, mode);
        let err = MasterKey::load_or_create_file(&path).unwrap_err();
        assert!(
            matches!(err, MasterKeyError::FileTooOpen { mode: m, .. } if m == mode),
            "{mode:o}: {err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "the master key file {p} has mode {mode:04o}, but it must have mode 0600 (read and write \
                 for its owner only): run `chmod 600 {p}` and start again",
                p = path.display()
            )
        );
    }
}

#[test]
fn refuses_a_key_file_without_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payhook.db.key");
    for (contents, found) in [
        ("", "it is empty"),
        (" \n", "it is empty"),
        ("not a key at all!", "17 characters, neither hex nor base64"),
        ("AAECAwQF", "base64 of 6 bytes"),
    ] {
        std::fs::write(&path, contents).unwrap();
        set_mode(&path, 0o600);
        let err = MasterKey::load_or_create_file(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the master key file {} does not hold a master key ({found}): it must contain 64 hex \
                 characters or the standard base64 of 32 bytes (generate one with `openssl rand -hex 32`); \
                 restore it from a backup if secrets were sealed under it; if none were, delete it and a \
                 new key is made on the next start",
                path.display()
            )
        );
    }
}

#[test]
fn refuses_a_key_file_path_that_is_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let err = MasterKey::load_or_create_file(dir.path()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the master key file {} is not a regular file: remove it or choose another path",
            dir.path().display()
        )
    );
}

#[test]
fn reports_a_key_file_that_cannot_be_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("payhook.db.key");
    let err = MasterKey::load_or_create_file(&path).unwrap_err();
    assert!(
        matches!(
            err,
            MasterKeyError::Io {
                action: "create",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "could not create the master key file {}: No such file or directory (os error 2)",
            path.display()
        )
    );
}

#[test]
fn io_and_random_failures_name_what_failed() {
    let err = MasterKeyError::Io {
        action: "read",
        path: PathBuf::from("payhook.db.key"),
        source: io::Error::from(io::ErrorKind::PermissionDenied),
    };
    assert_eq!(
        err.to_string(),
        "could not read the master key file payhook.db.key: permission denied"
    );
    let err = MasterKeyError::RandomUnavailable {
        reason: "errno: 38".into(),
    };
    assert_eq!(
        err.to_string(),
        "the operating system's random number generator failed (errno: 38): no master key was created"
    );
}

#[test]
fn resolve_prefers_the_env_value_and_touches_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payhook.db.key");
    let (key, source) = MasterKey::resolve(Some(HEX_KEY), &path).unwrap();
    assert_eq!((key.expose(), source), (&expected(), KeySource::Env));
    assert!(!path.exists());
    // A set but broken variable is an error, not a fall-back to the file.
    assert!(matches!(
        MasterKey::resolve(Some(""), &path),
        Err(MasterKeyError::EnvEmpty)
    ));
    assert!(!path.exists());
}

#[test]
fn resolve_without_the_env_value_uses_the_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payhook.db.key");
    let (first, source) = MasterKey::resolve(None, &path).unwrap();
    assert_eq!(source, KeySource::CreatedFile(path.clone()));
    let (again, source) = MasterKey::resolve(None, &path).unwrap();
    assert_eq!(source, KeySource::ExistingFile(path));
    assert_eq!(first.expose(), again.expose());
}

#[test]
fn the_key_file_sits_beside_the_database() {
    assert_eq!(
        key_file_beside(Path::new("payhook.db")),
        PathBuf::from("payhook.db.key")
    );
    assert_eq!(
        key_file_beside(Path::new("data/main.sqlite")),
        PathBuf::from("data/main.sqlite.key")
    );
    assert_eq!(key_file_beside(Path::new("")), PathBuf::from("payhook.key"));
}

#[test]
fn debug_output_holds_no_key() {
    let key = MasterKey::from_env_value(HEX_KEY).unwrap();
    assert_eq!(format!("{key:?}"), "MasterKey([redacted])");
    let err = MasterKey::from_env_value(&HEX_KEY[..40]).unwrap_err();
    assert!(!format!("{err:?}").contains(&HEX_KEY[..8]), "{err:?}");
}
