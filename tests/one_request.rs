//! One fit request through every door: the Rust API, the C ABI (its option fields and its
//! extra_json) and the command line (its flags and --request) give the same message for the
//! same bad option, naming it, because the engine alone checks options.

use std::ffi::{CStr, CString};
use std::path::Path;
use std::process::Command;

use synthvol::internals::ffi::{
    sv_fit, sv_fit_options, sv_fit_options_init, sv_last_error, sv_model, sv_model_free, sv_table,
    sv_table_free, sv_table_read_csv, SV_E_DEVICE, SV_E_INVALID_ARGUMENT, SV_OK,
};
use synthvol::model::{FitRequest, Synthesizer};
use synthvol::table::read_csv;

const CSV: &str = "a,b,y\n1.5,x,p\n2.5,y,q\n3.5,x,p\n4.5,y,q\n5.5,x,q\n6.5,y,p\n";

/// The engine's message for a request given as JSON.
fn rust_door(json: &str, data: &Path) -> String {
    let table = read_csv(data, &Default::default()).unwrap();
    let e = FitRequest::from_json(json)
        .and_then(|r| Synthesizer::fit(&table, &r, &mut |_| true))
        .expect_err("refused");
    e.message
}

/// The C ABI's status and message with the request in extra_json, and with `field` set in
/// the options struct instead when given.
fn c_door(json: &str, data: &Path, field: Option<&dyn Fn(&mut sv_fit_options)>) -> (i32, String) {
    let path = CString::new(data.to_str().unwrap()).unwrap();
    let extra = CString::new(json).unwrap();
    let mut t: *mut sv_table = std::ptr::null_mut();
    assert_eq!(sv_table_read_csv(path.as_ptr(), &mut t), SV_OK);
    let mut o = std::mem::MaybeUninit::<sv_fit_options>::uninit();
    assert_eq!(sv_fit_options_init(o.as_mut_ptr()), SV_OK);
    // SAFETY: initialised by sv_fit_options_init.
    let mut o = unsafe { o.assume_init() };
    match field {
        Some(set) => set(&mut o),
        None => o.extra_json = extra.as_ptr(),
    }
    let mut m: *mut sv_model = std::ptr::null_mut();
    let status = sv_fit(t, &o, None, std::ptr::null_mut(), std::ptr::null(), &mut m);
    // SAFETY: the library's thread-local message.
    let msg = unsafe { CStr::from_ptr(sv_last_error()) }
        .to_string_lossy()
        .into_owned();
    assert!(m.is_null(), "no model on failure");
    sv_model_free(m);
    sv_table_free(t);
    (status, msg)
}

/// The command line's message with the request as a --request file, and with `flags` (when
/// there are any).
fn cli_door(json: &str, data: &Path, flags: &[&str]) -> (String, Option<String>) {
    let dir = data.parent().unwrap();
    let req = dir.join("request.json");
    std::fs::write(&req, json).unwrap();
    let out = dir.join("m.svmodel");
    let run = |extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_synthvol"))
            .args(["fit", "--data", data.to_str().unwrap(), "--out"])
            .arg(&out)
            .args(extra)
            .output()
            .unwrap();
        assert!(!o.status.success());
        assert!(!out.exists(), "no model on failure");
        let e = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!e.contains("panicked"), "{e}");
        e
    };
    let file = run(&["--request", req.to_str().unwrap()]);
    (file, (!flags.is_empty()).then(|| run(flags)))
}

/// A bad option: the request JSON, the part of the message that names the option, the CLI
/// flags, how to set it in the C options' fields (if it is one), the C status.
type Case<'a> = (
    &'a str,
    &'a str,
    Vec<&'a str>,
    Option<&'a dyn Fn(&mut sv_fit_options)>,
    i32,
);

#[test]
fn bad_options_give_the_same_message_through_every_door() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    std::fs::write(&data, CSV).unwrap();
    let zero_batch: &dyn Fn(&mut sv_fit_options) =
        &|o| o.extra_json = c"{\"batch_size\": 0}".as_ptr();
    let negative_eps: &dyn Fn(&mut sv_fit_options) = &|o| o.epsilon = -1.0;
    let cases: [Case; 4] = [
        (
            r#"{"batch_size": 0}"#,
            "option 'batch_size' must be at least 1, got 0",
            vec!["--batch-size", "0"],
            Some(zero_batch),
            SV_E_INVALID_ARGUMENT,
        ),
        (
            r#"{"epsilon": -1}"#,
            "option 'epsilon' must be positive and finite, got -1",
            vec!["--epsilon", "-1"],
            Some(negative_eps),
            SV_E_INVALID_ARGUMENT,
        ),
        (
            r#"{"device": "cuda"}"#,
            "device 'cuda:0' was asked for, but",
            vec!["--device", "cuda", "--steps", "2", "--layers", "8"],
            None,
            SV_E_DEVICE,
        ),
        (
            r#"{"stepz": 10}"#,
            "unknown field `stepz`",
            vec![],
            None,
            SV_E_INVALID_ARGUMENT,
        ),
    ];
    for (json, want, flags, field, status) in cases {
        let rust = rust_door(json, &data);
        assert!(rust.contains(want), "Rust: {rust}");
        let (s, c) = c_door(json, &data, None);
        assert_eq!(s, status, "C extra_json {json}: {c}");
        assert!(c.contains(want), "C extra_json: {c}");
        if let Some(f) = field {
            let (s, c) = c_door(json, &data, Some(f));
            assert_eq!(s, status, "C field {json}: {c}");
            assert_eq!(c, rust, "the C field and the Rust API differ");
        }
        let (file, by_flags) = cli_door(json, &data, &flags);
        assert!(file.contains(want), "CLI --request: {file}");
        if let Some(by_flags) = by_flags {
            assert!(
                by_flags.contains(&rust),
                "CLI flags: {by_flags} (Rust: {rust})"
            );
        }
    }
}

#[test]
fn an_option_given_twice_is_refused_naming_both_places() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    std::fs::write(&data, CSV).unwrap();
    let steps: &dyn Fn(&mut sv_fit_options) = &|o| {
        o.steps = 5;
        o.extra_json = c"{\"steps\": 6}".as_ptr();
    };
    let (s, c) = c_door("", &data, Some(steps));
    assert_eq!(s, SV_E_INVALID_ARGUMENT);
    assert!(c.contains("option 'steps' is given twice"), "{c}");
    std::fs::write(dir.path().join("request.json"), r#"{"steps": 6}"#).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_synthvol"))
        .args([
            "fit",
            "--data",
            data.to_str().unwrap(),
            "--steps",
            "5",
            "--request",
        ])
        .arg(dir.path().join("request.json"))
        .arg("--out")
        .arg(dir.path().join("m.svmodel"))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("option 'steps' is given twice"), "{e}");
}
