//! What the command line shows and writes: progress bars on stderr, outputs checked before the
//! work starts and written whole or not at all, and Ctrl-C (SIGINT) or SIGTERM turned into a
//! clean cancellation at the next progress report (a second signal ends the process at once).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

use synthvol::files::{check_not_input, check_writable, write_atomic};
use synthvol::progress::Progress;
use synthvol::Result;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        // SAFETY: signal and raise are async-signal-safe.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }
}

/// Turns SIGINT and SIGTERM into a request to stop at the next progress report.
pub fn install_interrupt_handler() {
    let handler: extern "C" fn(libc::c_int) = on_signal;
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installing a handler that only touches an atomic and async-signal-safe calls.
        unsafe {
            libc::signal(sig, handler as libc::sighandler_t);
        }
    }
}

/// Whether SIGINT or SIGTERM arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// A progress bar on stderr driven by the library's progress reports; it answers "stop" once
/// the process was interrupted.
pub fn progress_bar() -> impl FnMut(&Progress) -> bool {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>7} [{bar:30}] {pos}/{len} {msg} ({elapsed}, eta {eta})",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    let mut stage = "";
    move |p: &Progress| {
        if interrupted() {
            bar.finish_and_clear();
            return false;
        }
        if p.stage != stage {
            stage = p.stage;
            bar.reset();
            bar.set_prefix(p.stage);
            bar.set_length(p.total as u64);
        }
        bar.set_position(p.done as u64);
        if p.loss.is_finite() {
            bar.set_message(format!("loss {:.4}", p.loss));
        } else {
            bar.set_message("");
        }
        if p.done == p.total {
            bar.finish_and_clear();
        }
        true
    }
}

/// Checks, before any long work, that every output can be written and none is an input.
pub fn check_outputs(outputs: &[PathBuf], inputs: &[(&str, &Path)]) -> Result<()> {
    for o in outputs {
        check_not_input(o, inputs)?;
        check_writable(o)?;
    }
    for (i, a) in outputs.iter().enumerate() {
        for b in &outputs[i + 1..] {
            if a == b {
                return Err(synthvol::Error::invalid(format!(
                    "{} is named as two outputs",
                    a.display()
                )));
            }
        }
    }
    Ok(())
}

/// Writes a whole text file or nothing.
pub fn write_text(text: &str, path: &Path) -> Result<()> {
    write_atomic(path, text.as_bytes())
}
