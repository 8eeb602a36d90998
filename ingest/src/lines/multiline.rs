//! Joins the lines of one event: stack traces and panics that a program printed over
//! several lines belong to the line that started them.
//!
//! A line continues the current event when it is indented (Java `\tat …`, Python
//! `  File …`, Node `    at …`, Go `\t/path/x.go:12`), or it is `Caused by: …` or
//! `... N more` or an exception header like `java.io.IOException: …` (Java), or `Traceback (most recent call last):` and the exception line
//! that ends a Python traceback, or part of a Go panic (`goroutine N [running]:`,
//! `main.main()`, `created by …`, blank lines) or of a Rust panic (the message line
//! after `thread '…' panicked at …`, `note: …`, `stack backtrace:`). Python's chained
//! exceptions (`During handling of the above exception…`, `The above exception was the
//! direct cause…`) continue the traceback they follow; Go's `[signal …]` line and
//! frames with arguments continue a panic; Node's uncaught-exception report (`file.js:12`,
//! the source line, the `^` marker, the error and its frames, `Node.js vX`) is one
//! event.
//!
//! Joining happens within one request: a client sends whole events together (the
//! capture clients batch by time, and a trace is printed at once).

use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Normal,
    /// Inside a Python traceback: indented lines, then the exception line.
    PythonTraceback,
    /// After `panic: …` (Go).
    GoPanic,
    /// After `thread '…' panicked at …` (Rust).
    RustPanic {
        message_seen: bool,
    },
    /// After the exception line that ends a Python traceback: a chained traceback may
    /// follow.
    PythonAfter,
    /// After `/app/server.js:12` (Node's uncaught-exception report).
    NodeUncaught,
}

/// The lines Python prints between chained tracebacks.
fn python_chain_line(line: &str) -> bool {
    line.is_empty()
        || line.starts_with("During handling of the above exception, another exception occurred:")
        || line.starts_with("The above exception was the direct cause of the following exception:")
        || line.starts_with("Traceback (most recent call last):")
}

/// `/app/server.js:12` or `file:///app/x.mjs:3`: where Node's uncaught-exception report
/// starts.
fn node_location_line(line: &str) -> bool {
    let Some((path, number)) = line.rsplit_once(':') else {
        return false;
    };
    !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && !path.contains(' ')
        && [".js", ".mjs", ".cjs", ".ts"]
            .iter()
            .any(|e| path.ends_with(e))
}

/// `Error: boom`, `TypeError: x is not a function`, `Error [ERR_X]: …`.
fn js_error_line(line: &str) -> bool {
    let name = line.split([':', ' ']).next().unwrap_or("");
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && (name.ends_with("Error") || name.ends_with("Exception"))
}

fn indented(line: &str) -> bool {
    line.starts_with(' ') || line.starts_with('\t')
}

/// `ValueError: x`, `json.decoder.JSONDecodeError: …`, `KeyboardInterrupt`.
fn python_exception_line(line: &str) -> bool {
    let name = line.split(':').next().unwrap_or("");
    !name.is_empty()
        && !name.contains(' ')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        && name.chars().next().is_some_and(|c| c.is_alphabetic())
}

/// `java.lang.IllegalStateException: boom`: a Java exception printed under the log line.
/// The name (before the first `": "`, or the whole line) is dotted words ending in an
/// exception class. Found without splitting the line: the first character a name cannot
/// hold must start `": "` (a JSON line stops at its `{`).
fn java_exception_header(line: &str) -> bool {
    let end = line
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$' || c == '.'))
        .unwrap_or(line.len());
    if end < line.len() && !line[end..].starts_with(": ") {
        return false;
    }
    let name = &line[..end];
    name.contains('.')
        && name.split('.').all(|p| !p.is_empty())
        && ["Exception", "Error", "Throwable"]
            .iter()
            .any(|s| name.ends_with(s))
}

fn go_stack_line(line: &str) -> bool {
    // A frame: `main.main()`, `main.(*T).Run(0xc000010000, {0x4b2d40, 0x5})`.
    let frame = line.ends_with(')')
        && line
            .split_once('(')
            .is_some_and(|(func, _)| !func.is_empty() && !func.contains(' '));
    line.is_empty()
        || indented(line)
        || frame
        || line.starts_with("goroutine ")
        || line.starts_with("created by ")
        || line.starts_with("[signal ")
        || line.starts_with("exit status ")
}

/// Where each event of `lines` starts and ends (consecutive ranges covering them all).
pub fn group<S: AsRef<str>>(lines: &[S]) -> Vec<std::ops::Range<usize>> {
    let mut events: Vec<std::ops::Range<usize>> = Vec::new();
    let mut mode = Mode::Normal;
    for (i, line) in lines.iter().enumerate() {
        let line = line.as_ref();
        let continues = match (&mut mode, events.is_empty()) {
            (_, true) => false,
            (Mode::PythonTraceback, false) => {
                if indented(line) {
                    true
                } else {
                    // The exception line ends the traceback; a chained one may follow.
                    let ends = python_exception_line(line);
                    mode = if ends {
                        Mode::PythonAfter
                    } else {
                        Mode::Normal
                    };
                    ends
                }
            }
            (Mode::PythonAfter, false) => {
                if python_chain_line(line) {
                    true
                } else {
                    mode = Mode::Normal;
                    false
                }
            }
            (Mode::NodeUncaught, false) => {
                if line.starts_with("Node.js v") {
                    mode = Mode::Normal;
                    true
                } else if line.is_empty()
                    || indented(line)
                    || line.trim_start().starts_with('^')
                    || js_error_line(line)
                {
                    true
                } else {
                    mode = Mode::Normal;
                    false
                }
            }
            (Mode::GoPanic, false) => {
                if go_stack_line(line) {
                    true
                } else {
                    mode = Mode::Normal;
                    false
                }
            }
            (Mode::RustPanic { message_seen }, false) => {
                if !*message_seen {
                    *message_seen = true;
                    true
                } else if line.starts_with("note: ")
                    || line.starts_with("stack backtrace:")
                    || indented(line)
                {
                    true
                } else {
                    mode = Mode::Normal;
                    false
                }
            }
            (Mode::Normal, false) => {
                (indented(line) && !line.trim().is_empty())
                    || line.starts_with("Caused by: ")
                    || line.starts_with("... ")
                    || line.starts_with("Traceback (most recent call last):")
                    || java_exception_header(line)
            }
        };
        if line.starts_with("Traceback (most recent call last):") {
            mode = Mode::PythonTraceback;
        } else if mode == Mode::Normal && node_location_line(line) {
            mode = Mode::NodeUncaught;
        } else if line.starts_with("panic: ") || line.starts_with("fatal error: ") {
            mode = Mode::GoPanic;
        } else if line.starts_with("thread '") && line.contains("' panicked at ") {
            mode = Mode::RustPanic {
                message_seen: false,
            };
        }
        match events.last_mut() {
            Some(last) if continues => last.end = i + 1,
            _ => events.push(i..i + 1),
        }
    }
    events
}

/// Groups `lines` into events, each its lines joined with `\n`. The lines may borrow
/// the request: an event of one line is that line, not a copy.
pub fn join(lines: Vec<Cow<'_, str>>) -> Vec<Cow<'_, str>> {
    let ranges = group(&lines);
    let mut lines = lines.into_iter();
    ranges
        .into_iter()
        .map(|r| {
            if r.len() == 1 {
                return lines.next().unwrap_or_default();
            }
            let joined: Vec<Cow<'_, str>> = lines.by_ref().take(r.len()).collect();
            let mut e = joined.join("\n");
            // Blank lines a Go panic swallowed at its end are not part of it.
            while e.ends_with('\n') {
                e.pop();
            }
            Cow::Owned(e)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(text: &str) -> Vec<String> {
        join(text.split('\n').map(Cow::Borrowed).collect())
            .into_iter()
            .map(Cow::into_owned)
            .collect()
    }

    /// The header test as first written (split, then a `Vec` of the parts).
    fn java_header_by_split(line: &str) -> bool {
        let name = line.split(": ").next().unwrap_or("");
        let parts: Vec<&str> = name.split('.').collect();
        parts.len() >= 2
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
            })
            && ["Exception", "Error", "Throwable"]
                .iter()
                .any(|s| parts.last().is_some_and(|l| l.ends_with(s)))
    }

    proptest::proptest! {
        /// The scan finds the headers the split found, and only those.
        #[test]
        fn java_header_scan_agrees_with_the_split(parts in proptest::collection::vec(
            proptest::sample::select(vec![
                "java", "lang", "IOException", "Error", "Throwable", "x$1", "é", ".", ":",
                ": ", " ", "{", "\"", "boom", "_", "9",
            ]),
            0..10,
        )) {
            let line = parts.concat();
            proptest::prop_assert_eq!(
                java_exception_header(&line),
                java_header_by_split(&line),
                "{}",
                line
            );
        }
    }

    #[test]
    fn java() {
        let e = j("2026-11-22 ERROR failed\n\
                   java.lang.IllegalStateException: boom\n\
                   \tat com.x.A.run(A.java:10)\n\
                   \tat com.x.B.main(B.java:3)\n\
                   Caused by: java.io.IOException: disk\n\
                   \tat com.x.C.io(C.java:5)\n\
                   \t... 2 more\n\
                   2026-11-22 INFO next");
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e[0].starts_with("2026-11-22 ERROR failed\njava.lang.IllegalStateException"));
        assert!(e[0].ends_with("\t... 2 more"));
        assert_eq!(e[1], "2026-11-22 INFO next");
        assert!(!java_exception_header("hello.world: not an exception"));
    }

    #[test]
    fn python() {
        let e = j("ERROR:root:request failed\n\
                   Traceback (most recent call last):\n  \
                   File \"app.py\", line 3, in <module>\n    \
                   main()\n\
                   ValueError: bad value\n\
                   INFO:root:next");
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e[0].ends_with("ValueError: bad value"));
        assert_eq!(e[1], "INFO:root:next");
    }

    #[test]
    fn go_panic() {
        let e = j(
            "panic: runtime error: index out of range [3] with length 1\n\
                   \n\
                   goroutine 1 [running]:\n\
                   main.main()\n\
                   \t/tmp/x.go:5 +0x1d\n\
                   exit status 2\n\
                   level=info msg=restarted",
        );
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e[0].contains("goroutine 1 [running]:"));
        assert!(e[0].ends_with("exit status 2"));
    }

    #[test]
    fn rust_panic() {
        let e = j("thread 'main' panicked at src/main.rs:2:5:\n\
                   explicit panic\n\
                   stack backtrace:\n   \
                   0: rust_begin_unwind\n             \
                   at /rustc/x/library/std/src/panicking.rs:1:1\n\
                   note: Some details are omitted\n\
                   next line");
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e[0].contains("explicit panic"));
        assert_eq!(e[1], "next line");
    }

    #[test]
    fn chained_python_go_frames_with_arguments_and_node_uncaught() {
        let e = j("ERROR:root:failed\n\
                   Traceback (most recent call last):\n  \
                   File \"a.py\", line 2, in f\n    \
                   x = d['k']\n\
                   KeyError: 'k'\n\
                   \n\
                   During handling of the above exception, another exception occurred:\n\
                   \n\
                   Traceback (most recent call last):\n  \
                   File \"a.py\", line 4, in <module>\n    \
                   raise ValueError('bad')\n\
                   ValueError: bad\n\
                   \n\
                   INFO:root:next");
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e[0].ends_with("ValueError: bad"), "{e:#?}");
        assert_eq!(e[1], "INFO:root:next");

        let e = j(
            "panic: runtime error: invalid memory address or nil pointer dereference\n\
                   [signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x47e7b6]\n\
                   \n\
                   goroutine 1 [running]:\n\
                   main.(*Server).handle(0xc000010000, {0x4b2d40, 0x5})\n\
                   \t/app/main.go:12 +0x16\n\
                   main.main()\n\
                   \t/app/main.go:20 +0x2a\n\
                   exit status 2\n\
                   starting again",
        );
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e[0].ends_with("exit status 2"));
        assert_eq!(e[1], "starting again");

        let e = j("/app/server.js:12\n    \
                   throw new Error('boom');\n    \
                   ^\n\
                   \n\
                   Error: boom\n    \
                   at Object.<anonymous> (/app/server.js:12:11)\n    \
                   at node:internal/main/run_main_module:28:49\n\
                   \n\
                   Node.js v20.10.0\n\
                   listening on 8080");
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e[0].starts_with("/app/server.js:12\n"));
        assert!(e[0].ends_with("Node.js v20.10.0"));
        assert_eq!(e[1], "listening on 8080");
        // Not a report: a log line that happens to end in a number.
        assert_eq!(j("port:8080\nnext").len(), 2);
    }

    #[test]
    fn node_and_plain() {
        let e = j(
            "Error: boom\n    at Object.<anonymous> (/x.js:1:7)\n    at node:internal/main:1:1\nok\nok2",
        );
        assert_eq!(e.len(), 3, "{e:#?}");
        assert_eq!(e[1], "ok");
        // An indented first line starts an event; blank lines end none.
        assert_eq!(j("  indented\nplain"), vec!["  indented", "plain"]);
    }
}
