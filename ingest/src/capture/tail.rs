//! `osprey tail PATHS…`: follows log files and ships their lines.
//!
//! - Formats, per line: CRI (`<RFC 3339> stdout|stderr F|P <line>`, partial `P` lines
//!   joined to the next), Docker's json-file (`{"log":"…\n","stream":"stdout",
//!   "time":"…"}`), else the line as it is. The runtime's time and stream are kept.
//! - Kubernetes: a file named like `/var/log/containers/<pod>_<namespace>_<container>-
//!   <id>.log` gives `k8s.pod.name`, `k8s.namespace.name` and `k8s.container.name`, and
//!   the container name is the service unless `--service` says otherwise. Other files
//!   are the service named by `--service`, else their file name without extension.
//! - Rotation (the path now names another file): the old file is read to its end, then
//!   the new one from its start. Truncation (the file got shorter): read from the start;
//!   like `tail -F`, a truncation refilled past the old size within one poll (250 ms)
//!   is not noticed.
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

impl Followed {
    /// Turns one raw line into zero or one event.
    fn line(&mut self, raw: &[u8]) -> Option<Vec<u8>> {
        let text = String::from_utf8_lossy(raw);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        // Docker json-file.
        if text.starts_with('{')
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(text)
            && let Some(log) = v.get("log").and_then(|l| l.as_str())
        {
            let log = log.strip_suffix('\n').unwrap_or(log);
            return Some(event(
                log,
                v.get("time").and_then(|t| t.as_str()),
                v.get("stream").and_then(|s| s.as_str()),
                &self.k8s,
            ));
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
            return Some(event(&whole, Some(time), Some(stream), &self.k8s));
        }
        Some(if self.k8s.is_empty() {
            text.as_bytes().to_vec()
        } else {
            event(text, None, None, &self.k8s)
        })
    }

    /// Reads what was appended; returns complete lines as events.
    fn poll(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let meta = std::fs::metadata(&self.path).ok();
        let (dev, ino, len) = meta.map_or((0, 0, 0), |m| (m.dev(), m.ino(), m.len()));
        let rotated = meta_changed(&self.pos, dev, ino) && self.file.is_some();
        // Finish the old file first (rotation), then switch.
        if rotated {
            self.read_to_end(&mut out);
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
        self.read_to_end(&mut out);
        out
    }

    fn read_to_end(&mut self, out: &mut Vec<Vec<u8>>) {
        let Some(f) = &mut self.file else { return };
        let mut buf = Vec::new();
        if f.read_to_end(&mut buf).is_err() {
            return;
        }
        self.partial.extend_from_slice(&buf);
        let mut consumed = 0;
        while let Some(nl) = self.partial[consumed..].iter().position(|b| *b == b'\n') {
            let line = self.partial[consumed..consumed + nl].to_vec();
            consumed += nl + 1;
            if let Some(e) = self.line(&line) {
                out.push(e);
            }
        }
        self.partial.drain(..consumed);
        self.pos.offset += consumed as u64;
        // Not advanced past the partial line: a restart re-reads it whole.
        if let Some(f) = &mut self.file {
            let _ = f.seek(SeekFrom::Start(self.pos.offset + self.partial.len() as u64));
        }
    }
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
    let mut followed: Vec<Followed> = paths
        .into_iter()
        .map(|path| {
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
        })
        .collect();
    let mut shippers: HashMap<String, (Shipper, tokio::task::JoinHandle<super::ShipStats>)> =
        HashMap::new();
    tokio::pin!(stop);
    let mut last_save = std::time::Instant::now();
    loop {
        for f in &mut followed {
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

fn positions(followed: &[Followed]) -> HashMap<PathBuf, Position> {
    followed.iter().map(|f| (f.path.clone(), f.pos)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn formats() {
        let mut f = followed();
        let e = f
            .line(br#"{"log":"hello\n","stream":"stderr","time":"2026-11-22T10:00:00.5Z"}"#)
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&e).unwrap();
        assert_eq!(v["log"], "hello");
        assert_eq!(v["stream"], "stderr");
        assert_eq!(v["time"], "2026-11-22T10:00:00.5Z");
        assert!(
            f.line(b"2026-11-22T10:00:00.1Z stdout P part one, ")
                .is_none()
        );
        let e = f.line(b"2026-11-22T10:00:00.2Z stdout F part two").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&e).unwrap();
        assert_eq!(v["log"], "part one, part two");
        assert_eq!(v["time"], "2026-11-22T10:00:00.2Z");
        assert_eq!(f.line(b"plain line\r").unwrap(), b"plain line");
    }
}
