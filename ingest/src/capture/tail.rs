//! `osprey tail PATHS…`: follows log files and ships their lines.
//!
//! - Formats, per line: CRI (`<RFC 3339> stdout|stderr F|P <line>`, partial `P` lines
//!   joined to the next), Docker's json-file (`{"log":"…\n","stream":"stdout",
//!   "time":"…"}`), else the line as it is. The runtime's time and stream are kept.
//! - Kubernetes: a file named like `/var/log/containers/<pod>_<namespace>_<container>-
//!   <id>.log` gives `k8s.pod.name`, `k8s.namespace.name` and `k8s.container.name`, and
//!   the container name is the service unless `--service` says otherwise. Other files
//!   are the service named by `--service`, else their file name without extension.
//! - A path whose file name has `*` or `?` is a pattern, matched again every second:
//!   files that appear later (a new pod's) are followed too.
//! - Rotation (the path now names another file): the old file is read to its end, then
//!   the new one from its start. Truncation (the file got shorter): read from the start;
//!   like `tail -F`, a truncation refilled past the old size within one poll (250 ms)
//!   is not noticed.
//! - Stack traces and panics that a program printed over several container lines are
//!   joined into one event per stream (the rules of `lines::multiline`), within what
//!   one poll read. The server parses the program's line inside the runtime's
//!   wrapper (JSON, logfmt, or plain text with its severity and time).
//! - Backpressure: a file is read at most 1 MiB per poll, and not at all while its
//!   shipper's buffer is half full (the server is down or slow): the lines wait on disk,
//!   none is dropped.
//! - Rotated while stopped: a restart that finds the path naming another file looks for
//!   the saved one (same device and inode) beside it and reads it to its end first.
//! - Positions (device, inode, offset per path) are saved to `--positions` every second
//!   and at exit, and a restart goes on from them. They count lines handed to the
//!   shipper: what sat in its buffer when the process was killed is not sent again
//!   (at most the buffer; a graceful stop gives it `--flush-timeout`).

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Shipper, ShipperConfig, Stream};

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub dev: u64,
    pub ino: u64,
    pub offset: u64,
}

/// A followed path.
struct Followed {
    path: PathBuf,
    file: Option<File>,
    pos: Position,
    /// Bytes after the last newline.
    partial: Vec<u8>,
    /// A CRI `P` line waiting for the rest.
    cri_partial: String,
    service: String,
    k8s: Vec<(&'static str, String)>,
}

/// `<pod>_<namespace>_<container>-<64 hex id>.log`.
pub fn k8s_from_name(path: &Path) -> Option<Vec<(&'static str, String)>> {
    let name = path.file_name()?.to_str()?.strip_suffix(".log")?;
    let (pod, rest) = name.split_once('_')?;
    let (ns, rest) = rest.split_once('_')?;
    let (container, id) = rest.rsplit_once('-')?;
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) || container.is_empty() {
        return None;
    }
    Some(vec![
        ("k8s.pod.name", pod.to_string()),
        ("k8s.namespace.name", ns.to_string()),
        ("k8s.container.name", container.to_string()),
    ])
}

/// One line of a followed file, unwrapped from its container runtime's format.
#[derive(Debug, Clone, PartialEq)]
enum Record {
    /// From CRI or Docker's json-file: the program's line, the runtime's time and
    /// stream.
    Runtime {
        body: String,
        time: Option<String>,
        stream: Option<String>,
    },
    /// A line of a plain file, as it is.
    Plain(String),
}

/// One event as the NDJSON line shipped (`time` and `stream` only when known).
fn event(body: &str, time: Option<&str>, stream: Option<&str>, k8s: &[(&str, String)]) -> Vec<u8> {
    let mut m = serde_json::Map::new();
    m.insert("log".into(), body.into());
    if let Some(t) = time {
        m.insert("time".into(), t.into());
    }
    if let Some(s) = stream {
        m.insert("stream".into(), s.into());
    }
    for (k, v) in k8s {
        m.insert((*k).into(), v.clone().into());
    }
    serde_json::Value::Object(m).to_string().into_bytes()
}

/// Most bytes one poll reads of one file: a large file is shipped as the shipper's
/// buffer takes it, never read into memory whole.
const READ_CHUNK: u64 = 1 << 20;

impl Followed {
    /// Turns one raw line into zero or one record.
    fn line(&mut self, raw: &[u8]) -> Option<Record> {
        let text = String::from_utf8_lossy(raw);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        // Docker json-file.
        if text.starts_with('{')
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(text)
            && let Some(log) = v.get("log").and_then(|l| l.as_str())
        {
            let log = log.strip_suffix('\n').unwrap_or(log);
            return Some(Record::Runtime {
                body: log.to_string(),
                time: v.get("time").and_then(|t| t.as_str()).map(str::to_string),
                stream: v.get("stream").and_then(|s| s.as_str()).map(str::to_string),
            });
        }
        // CRI: `time stream F|P line`.
        let mut parts = text.splitn(4, ' ');
        if let (Some(time), Some(stream), Some(tag), rest) =
            (parts.next(), parts.next(), parts.next(), parts.next())
            && (stream == "stdout" || stream == "stderr")
            && (tag == "F" || tag == "P")
            && crate::lines::parse::parse_iso(time).is_some()
        {
            let rest = rest.unwrap_or("");
            if tag == "P" {
                self.cri_partial.push_str(rest);
                return None;
            }
            let whole = std::mem::take(&mut self.cri_partial) + rest;
            return Some(Record::Runtime {
                body: whole,
                time: Some(time.to_string()),
                stream: Some(stream.to_string()),
            });
        }
        Some(Record::Plain(text.to_string()))
    }

    /// Events of records read in order: the lines a program printed as one event (a
    /// stack trace, a panic) become one, per stream, with the time of their first
    /// line. Plain lines go as they are (the server joins them within a request).
    fn events(&self, records: Vec<Record>) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < records.len() {
            match &records[i] {
                Record::Plain(text) => {
                    out.push(if self.k8s.is_empty() {
                        text.as_bytes().to_vec()
                    } else {
                        event(text, None, None, &self.k8s)
                    });
                    i += 1;
                }
                Record::Runtime { stream, .. } => {
                    // The run of runtime records of this stream.
                    let run_end = records[i..]
                        .iter()
                        .position(
                            |r| !matches!(r, Record::Runtime { stream: s, .. } if s == stream),
                        )
                        .map_or(records.len(), |n| i + n);
                    let bodies: Vec<&str> = records[i..run_end]
                        .iter()
                        .map(|r| match r {
                            Record::Runtime { body, .. } | Record::Plain(body) => body.as_str(),
                        })
                        .collect();
                    for g in crate::lines::multiline::group(&bodies) {
                        let first = &records[i + g.start];
                        let Record::Runtime { time, stream, .. } = first else {
                            continue;
                        };
                        let mut body = bodies[g].join("\n");
                        while body.ends_with('\n') {
                            body.pop();
                        }
                        out.push(event(&body, time.as_deref(), stream.as_deref(), &self.k8s));
                    }
                    i = run_end;
                }
            }
        }
        out
    }

    /// Reads what was appended (at most [`READ_CHUNK`] bytes); returns complete lines
    /// as events.
    fn poll(&mut self) -> Vec<Vec<u8>> {
        let mut records = Vec::new();
        let meta = std::fs::metadata(&self.path).ok();
        let (dev, ino, len) = meta.map_or((0, 0, 0), |m| (m.dev(), m.ino(), m.len()));
        // Rotated while the tail was stopped: the saved position is in a file the path
        // no longer names. When it is still beside it (`app.log.1`), finish it first.
        if self.file.is_none()
            && meta_changed(&self.pos, dev, ino)
            && let Some(old) = find_inode(&self.path, self.pos.dev, self.pos.ino)
            && let Ok(mut f) = File::open(&old)
            && f.seek(SeekFrom::Start(self.pos.offset)).is_ok()
        {
            self.file = Some(f);
        }
        let rotated = meta_changed(&self.pos, dev, ino) && self.file.is_some();
        // Finish the old file first (rotation), then switch.
        if rotated {
            if !self.read_chunk(&mut records) {
                // More of the old file to read: the switch waits for the next poll.
                return self.events(records);
            }
            self.file = None;
            self.partial.clear();
        }
        if self.file.is_none()
            && ino != 0
            && let Ok(mut f) = File::open(&self.path)
        {
            let same = self.pos.dev == dev && self.pos.ino == ino && self.pos.offset <= len;
            let start = if same { self.pos.offset } else { 0 };
            if f.seek(SeekFrom::Start(start)).is_ok() {
                self.pos = Position {
                    dev,
                    ino,
                    offset: start,
                };
                self.file = Some(f);
            }
        }
        if self.file.is_some() && len < self.pos.offset && !rotated {
            // Truncated in place (copytruncate): start over.
            if let Some(f) = &mut self.file
                && f.seek(SeekFrom::Start(0)).is_ok()
            {
                self.pos.offset = 0;
                self.partial.clear();
            }
        }
        if !rotated || self.file.is_some() {
            self.read_chunk(&mut records);
        }
        self.events(records)
    }

    /// Reads up to [`READ_CHUNK`] bytes; returns whether the file's end was reached.
    fn read_chunk(&mut self, out: &mut Vec<Record>) -> bool {
        let Some(f) = &mut self.file else { return true };
        let mut buf = Vec::new();
        let Ok(n) = f.by_ref().take(READ_CHUNK).read_to_end(&mut buf) else {
            return true;
        };
        self.partial.extend_from_slice(&buf);
        let mut consumed = 0;
        while let Some(nl) = self.partial[consumed..].iter().position(|b| *b == b'\n') {
            let line = self.partial[consumed..consumed + nl].to_vec();
            consumed += nl + 1;
            if let Some(r) = self.line(&line) {
                out.push(r);
            }
        }
        self.partial.drain(..consumed);
        self.pos.offset += consumed as u64;
        // Not advanced past the partial line: a restart re-reads it whole.
        if let Some(f) = &mut self.file {
            let _ = f.seek(SeekFrom::Start(self.pos.offset + self.partial.len() as u64));
        }
        (n as u64) < READ_CHUNK
    }
}

/// The file in `path`'s directory that is (`dev`, `ino`), if any.
fn find_inode(path: &Path, dev: u64, ino: u64) -> Option<PathBuf> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let m = e.metadata().ok()?;
        (m.is_file() && m.dev() == dev && m.ino() == ino).then(|| e.path())
    })
}

fn meta_changed(pos: &Position, dev: u64, ino: u64) -> bool {
    ino != 0 && (pos.dev != dev || pos.ino != ino) && pos.ino != 0
}

fn load_positions(path: &Path) -> HashMap<PathBuf, Position> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn save_positions(path: &Path, positions: &HashMap<PathBuf, Position>) {
    let Ok(bytes) = serde_json::to_vec_pretty(positions) else {
        return;
    };
    let tmp = path.with_extension("tmp");
    if std::fs::write(&tmp, bytes).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

/// Follows `paths` until `stop` resolves; returns the exit code.
pub async fn tail(
    cfg: ShipperConfig,
    service: Option<String>,
    paths: Vec<PathBuf>,
    positions_path: PathBuf,
    flush_timeout: Duration,
    stop: impl std::future::Future<Output = ()>,
) -> i32 {
    let saved = load_positions(&positions_path);
    let follow = |path: PathBuf| {
        let k8s = k8s_from_name(&path).unwrap_or_default();
        let svc = service
            .clone()
            .or_else(|| {
                k8s.iter()
                    .find(|(k, _)| *k == "k8s.container.name")
                    .map(|(_, v)| v.clone())
            })
            .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "unknown".into());
        Followed {
            pos: saved.get(&path).copied().unwrap_or_default(),
            path,
            file: None,
            partial: Vec::new(),
            cri_partial: String::new(),
            service: svc,
            k8s,
        }
    };
    // A path whose file name has `*` or `?` (quoted, so the shell leaves it) is a
    // pattern: files that later appear in its directory and match are followed too
    // (new pods' files in /var/log/containers).
    let (patterns, plain): (Vec<PathBuf>, Vec<PathBuf>) =
        paths.into_iter().partition(|p| is_pattern(p));
    let mut followed: Vec<Followed> = plain.into_iter().map(&follow).collect();
    let mut last_scan: Option<std::time::Instant> = None;
    let mut shippers: HashMap<String, (Shipper, tokio::task::JoinHandle<super::ShipStats>)> =
        HashMap::new();
    tokio::pin!(stop);
    let mut last_save = std::time::Instant::now();
    loop {
        if !patterns.is_empty() && last_scan.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            for path in matching_files(&patterns) {
                if !followed.iter().any(|f| f.path == path) {
                    followed.push(follow(path));
                }
            }
            last_scan = Some(std::time::Instant::now());
        }
        for f in &mut followed {
            // A file waits on disk while the server is down or slow: it is read only
            // as fast as its lines are shipped.
            if shippers.get(&f.service).is_some_and(|(s, _)| !s.has_room()) {
                continue;
            }
            let events = f.poll();
            if events.is_empty() {
                continue;
            }
            let (shipper, _) = shippers.entry(f.service.clone()).or_insert_with(|| {
                let mut c = cfg.clone();
                c.service = f.service.clone();
                Shipper::start(c)
            });
            for e in events {
                shipper.push(Stream::Events, e);
            }
        }
        if last_save.elapsed() >= Duration::from_secs(1) {
            save_positions(&positions_path, &positions(&followed));
            last_save = std::time::Instant::now();
        }
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
    save_positions(&positions_path, &positions(&followed));
    for (_, (shipper, task)) in shippers {
        super::run::finish(shipper, task, flush_timeout).await;
    }
    0
}

fn is_pattern(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains(['*', '?']))
}

/// Whether `name` matches a pattern of literal characters, `?` (one character) and `*`
/// (any run), as the shell matches a file name.
fn wildcard(pattern: &[char], name: &[char]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some(('*', rest)) => (0..=name.len()).any(|i| wildcard(rest, &name[i..])),
        Some(('?', rest)) => !name.is_empty() && wildcard(rest, &name[1..]),
        Some((c, rest)) => name.first() == Some(c) && wildcard(rest, &name[1..]),
    }
}

/// The regular files that match `patterns` now, sorted.
fn matching_files(patterns: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in patterns {
        let (Some(dir), Some(pat)) = (p.parent(), p.file_name().and_then(|n| n.to_str())) else {
            continue;
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let pat: Vec<char> = pat.chars().collect();
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name: Vec<char> = e.file_name().to_string_lossy().chars().collect();
            if e.file_type().is_ok_and(|t| t.is_file()) && wildcard(&pat, &name) {
                out.push(p.with_file_name(e.file_name()));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn positions(followed: &[Followed]) -> HashMap<PathBuf, Position> {
    followed.iter().map(|f| (f.path.clone(), f.pos)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_like_the_shell() {
        let m = |p: &str, n: &str| {
            wildcard(
                &p.chars().collect::<Vec<_>>(),
                &n.chars().collect::<Vec<_>>(),
            )
        };
        assert!(m("*.log", "web_shop_nginx-1.log"));
        assert!(!m("*.log", "web.log.1"));
        assert!(m("app-?.log", "app-1.log"));
        assert!(!m("app-?.log", "app-12.log"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "aXbYc"));
        assert!(!m("a*b*c", "aXbY"));
        let dir = tempfile::tempdir().unwrap();
        for n in ["a.log", "b.log", "c.txt"] {
            std::fs::write(dir.path().join(n), "x").unwrap();
        }
        std::fs::create_dir(dir.path().join("d.log")).unwrap();
        let found = matching_files(&[dir.path().join("*.log")]);
        assert_eq!(
            found,
            vec![dir.path().join("a.log"), dir.path().join("b.log")]
        );
        assert!(is_pattern(Path::new("/var/log/containers/*.log")));
        assert!(!is_pattern(Path::new("/var/log/syslog")));
    }

    #[test]
    fn kubernetes_names() {
        let id = "a".repeat(64);
        let p = PathBuf::from(format!("/var/log/containers/web-7d9f_shop_nginx-{id}.log"));
        assert_eq!(
            k8s_from_name(&p).unwrap(),
            vec![
                ("k8s.pod.name", "web-7d9f".to_string()),
                ("k8s.namespace.name", "shop".into()),
                ("k8s.container.name", "nginx".into())
            ]
        );
        assert!(k8s_from_name(Path::new("/var/log/syslog")).is_none());
        assert!(k8s_from_name(Path::new("/x/a_b_c-123.log")).is_none());
    }

    fn followed() -> Followed {
        Followed {
            path: PathBuf::new(),
            file: None,
            pos: Position::default(),
            partial: Vec::new(),
            cri_partial: String::new(),
            service: "s".into(),
            k8s: Vec::new(),
        }
    }

    fn one(f: &mut Followed, raw: &[u8]) -> serde_json::Value {
        let r = f.line(raw).unwrap();
        let [e] = f.events(vec![r]).try_into().unwrap();
        serde_json::from_slice(&e).unwrap()
    }

    #[test]
    fn formats() {
        let mut f = followed();
        let v = one(
            &mut f,
            br#"{"log":"hello\n","stream":"stderr","time":"2026-11-22T10:00:00.5Z"}"#,
        );
        assert_eq!(v["log"], "hello");
        assert_eq!(v["stream"], "stderr");
        assert_eq!(v["time"], "2026-11-22T10:00:00.5Z");
        assert!(
            f.line(b"2026-11-22T10:00:00.1Z stdout P part one, ")
                .is_none()
        );
        let v = one(&mut f, b"2026-11-22T10:00:00.2Z stdout F part two");
        assert_eq!(v["log"], "part one, part two");
        assert_eq!(v["time"], "2026-11-22T10:00:00.2Z");
        let r = f.line(b"plain line\r").unwrap();
        assert_eq!(f.events(vec![r]), vec![b"plain line".to_vec()]);
    }

    #[test]
    fn a_stack_trace_in_container_lines_is_one_event_per_stream() {
        let mut f = followed();
        let lines: &[&[u8]] = &[
            b"2026-11-22T10:00:00.1Z stderr F Exception in thread \"main\" java.lang.IllegalStateException: boom",
            b"2026-11-22T10:00:00.2Z stdout F request served",
            b"2026-11-22T10:00:00.3Z stderr F \tat com.x.A.run(A.java:10)",
            b"2026-11-22T10:00:00.3Z stderr F \tat com.x.Main.main(Main.java:3)",
            b"2026-11-22T10:00:00.4Z stderr F next error line",
        ];
        let records: Vec<Record> = lines.iter().filter_map(|l| f.line(l)).collect();
        let events: Vec<serde_json::Value> = f
            .events(records)
            .iter()
            .map(|e| serde_json::from_slice(e).unwrap())
            .collect();
        // Runs of one stream are grouped: the stdout line splits the stderr run, so
        // the trace's frames after it are joined with each other, not across it.
        let bodies: Vec<&str> = events.iter().map(|e| e["log"].as_str().unwrap()).collect();
        assert_eq!(
            bodies,
            vec![
                "Exception in thread \"main\" java.lang.IllegalStateException: boom",
                "request served",
                "\tat com.x.A.run(A.java:10)\n\tat com.x.Main.main(Main.java:3)",
                "next error line",
            ]
        );
        let records: Vec<Record> = [lines[0], lines[2], lines[3], lines[4]]
            .iter()
            .filter_map(|l| f.line(l))
            .collect();
        let events = f.events(records);
        assert_eq!(events.len(), 2);
        let v: serde_json::Value = serde_json::from_slice(&events[0]).unwrap();
        assert!(v["log"].as_str().unwrap().ends_with("Main.java:3)"));
        assert_eq!(v["time"], "2026-11-22T10:00:00.1Z");
        assert_eq!(v["stream"], "stderr");
    }
}
