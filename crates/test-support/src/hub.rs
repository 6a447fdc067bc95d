//! A simulated Hugging Face Hub on 127.0.0.1 for tests (there is no internet in CI): the
//! file protocol `hf-hub` and `huggingface_hub` speak, served from memory.
//!
//! - `GET /api/{models,datasets}/<repo>/revision/<rev>`: `{"sha": <commit>, "siblings":
//!   [{"rfilename": …}]}`, as the Hub answers.
//! - `GET|HEAD [/datasets]/<repo>/resolve/<rev>/<file>`: small ("git") files directly, with
//!   `ETag` and `X-Repo-Commit`; large ("LFS") files as the Hub does, a `302` to a CDN URL
//!   (`/cdn/<kind>/<repo>/<sha256>`) with `X-Linked-Etag: "<sha256>"`, `X-Linked-Size` and `X-Repo-Commit`.
//!   `Range: bytes=a-b` / `bytes=a-` get `206` with `Content-Range: bytes a-b/total`.
//! - The Hub's errors: an unknown repository is `401` with `X-Error-Code: RepoNotFound` (the
//!   Hub does not tell a private repository from a missing one), an unknown revision `404`
//!   `RevisionNotFound`, an unknown file `404` `EntryNotFound`, a gated repository without the
//!   right `Authorization: Bearer` token `401` `GatedRepo`.
//! - Faults for the error tests: [`Repo::truncate`] sends a file's full `Content-Length` and
//!   then only half of its bytes.
//!
//! Every request line is logged ([`FakeHub::requests`]). One thread per connection,
//! `Connection: close`; dropping the server stops it (its port then refuses connections).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A file bigger than this is served as an LFS file (redirect, SHA-256 etag), as the Hub does
/// for weights and parquet files.
pub const LFS_THRESHOLD: usize = 1024;

/// One repository on the simulated Hub.
#[derive(Clone, Debug)]
pub struct Repo {
    /// `models` or `datasets`.
    pub kind: &'static str,
    pub id: String,
    /// Branch or tag name → commit.
    pub refs: BTreeMap<String, String>,
    pub files: BTreeMap<String, Vec<u8>>,
    /// `Authorization: Bearer <token>` the repository requires (a gated or private one).
    pub token: Option<String>,
    /// Files whose download is cut off halfway.
    pub truncate: Vec<String>,
}

impl Repo {
    /// A model repository with `main` at `commit`.
    pub fn model(id: &str, commit: &str) -> Repo {
        Repo::new("models", id, commit)
    }
    /// A dataset repository with `main` at `commit`.
    pub fn dataset(id: &str, commit: &str) -> Repo {
        Repo::new("datasets", id, commit)
    }
    fn new(kind: &'static str, id: &str, commit: &str) -> Repo {
        Repo {
            kind,
            id: id.into(),
            refs: BTreeMap::from([("main".to_string(), commit.to_string())]),
            files: BTreeMap::new(),
            token: None,
            truncate: Vec::new(),
        }
    }
    pub fn file(mut self, name: &str, bytes: Vec<u8>) -> Repo {
        self.files.insert(name.into(), bytes);
        self
    }
    /// Every file of a local folder (a checkpoint), by its name.
    pub fn files_from(mut self, dir: &std::path::Path) -> Repo {
        for e in std::fs::read_dir(dir).expect("fixture folder").flatten() {
            let p = e.path();
            if p.is_file() {
                let name = p.file_name().unwrap().to_string_lossy().to_string();
                self.files.insert(name, std::fs::read(&p).unwrap());
            }
        }
        self
    }
    pub fn without(mut self, name: &str) -> Repo {
        self.files.remove(name);
        self
    }
    pub fn gated(mut self, token: &str) -> Repo {
        self.token = Some(token.into());
        self
    }
    pub fn truncate(mut self, name: &str) -> Repo {
        self.truncate.push(name.into());
        self
    }
    fn commit(&self) -> &str {
        &self.refs["main"]
    }
}

/// SHA-256 in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

struct State {
    repos: Vec<Repo>,
    log: Mutex<Vec<String>>,
}

/// The running server; stopped when dropped.
pub struct FakeHub {
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    state: Arc<State>,
    thread: Option<JoinHandle<()>>,
}

impl FakeHub {
    pub fn start(repos: Vec<Repo>) -> FakeHub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(State {
            repos,
            log: Mutex::new(Vec::new()),
        });
        let (s, st) = (stop.clone(), state.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, &st, addr);
                });
            }
        });
        FakeHub {
            addr,
            stop,
            state,
            thread: Some(thread),
        }
    }

    /// The endpoint (`HF_ENDPOINT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The request lines received so far (`GET /path`).
    pub fn requests(&self) -> Vec<String> {
        self.state.log.lock().unwrap().clone()
    }
}

impl Drop for FakeHub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Send only this many body bytes (after the full Content-Length), then close.
    cut: Option<usize>,
}

fn answer(status: u16, headers: Vec<(&str, String)>, body: Vec<u8>) -> Answer {
    Answer {
        status,
        headers: headers
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        body,
        cut: None,
    }
}

fn error(status: u16, code: &str, message: &str) -> Answer {
    answer(
        status,
        vec![
            ("X-Error-Code", code.to_string()),
            ("X-Error-Message", message.to_string()),
            ("Content-Type", "application/json".into()),
        ],
        format!("{{\"error\":\"{message}\"}}").into_bytes(),
    )
}

fn serve(conn: TcpStream, st: &State, addr: std::net::SocketAddr) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    st.log.lock().unwrap().push(format!("{method} {path}"));
    let a = route(st, &path, &headers, addr);
    let mut out = conn;
    write_answer(&mut out, &a, method == "HEAD")
}

fn write_answer(out: &mut TcpStream, a: &Answer, head: bool) -> std::io::Result<()> {
    let reason = match a.status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        401 => "Unauthorized",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        _ => "Status",
    };
    let mut text = format!("HTTP/1.1 {} {reason}\r\n", a.status);
    for (k, v) in &a.headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        a.body.len()
    ));
    out.write_all(text.as_bytes())?;
    if !head {
        let n = a.cut.unwrap_or(a.body.len());
        out.write_all(&a.body[..n])?;
    }
    out.flush()?;
    // Drain what the client may still send, then close.
    let _ = out.shutdown(std::net::Shutdown::Write);
    let mut sink = [0u8; 64];
    let _ = out.set_read_timeout(Some(std::time::Duration::from_millis(50)));
    let _ = out.read(&mut sink);
    Ok(())
}

/// `bytes=a-b` / `bytes=a-` → (start, end inclusive), clamped to `len`.
fn range(spec: Option<&String>, len: usize) -> Option<(usize, usize)> {
    let spec = spec?.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let a: usize = a.parse().ok()?;
    let b: usize = if b.is_empty() {
        len.saturating_sub(1)
    } else {
        b.parse::<usize>().ok()?.min(len.saturating_sub(1))
    };
    Some((a, b))
}

fn body_with_range(
    bytes: &[u8],
    headers: &BTreeMap<String, String>,
    mut extra: Vec<(&str, String)>,
    truncate: bool,
) -> Answer {
    let mut a = match range(headers.get("range"), bytes.len()) {
        Some((s, _)) if s >= bytes.len() && !bytes.is_empty() => {
            return answer(416, vec![], vec![]);
        }
        Some((s, e)) => {
            extra.push(("Content-Range", format!("bytes {s}-{e}/{}", bytes.len())));
            answer(
                206,
                extra,
                bytes[s..=e.max(s).min(bytes.len() - 1)].to_vec(),
            )
        }
        None => answer(200, extra, bytes.to_vec()),
    };
    // A cut-off download: the full length announced, half of it sent (range probes of one
    // byte are answered whole, so the client sees the right size first).
    if truncate && a.body.len() > 1 {
        a.cut = Some(a.body.len() / 2);
    }
    a
}

fn route(
    st: &State,
    path: &str,
    headers: &BTreeMap<String, String>,
    addr: std::net::SocketAddr,
) -> Answer {
    let path = path.split('?').next().unwrap_or("");
    if let Some(rest) = path.strip_prefix("/cdn/") {
        // /cdn/<kind>/<repo id>/<sha256>
        let (repo_part, sha) = rest.rsplit_once('/').unwrap_or(("", rest));
        for r in &st.repos {
            if format!("{}/{}", r.kind, r.id) != repo_part {
                continue;
            }
            for (name, bytes) in &r.files {
                if sha256_hex(bytes) == sha {
                    let cut = r.truncate.contains(name);
                    return body_with_range(bytes, headers, vec![], cut);
                }
            }
        }
        return answer(404, vec![], b"no such blob".to_vec());
    }
    let authorised = |r: &Repo| match &r.token {
        None => true,
        Some(t) => headers.get("authorization") == Some(&format!("Bearer {t}")),
    };
    let find = |kind: &str, rest: &str| -> Option<(&Repo, String)> {
        st.repos.iter().find_map(|r| {
            (r.kind == kind)
                .then(|| rest.strip_prefix(&r.id)?.strip_prefix('/'))
                .flatten()
                .map(|tail| (r, tail.to_string()))
        })
    };
    if let Some(rest) = path.strip_prefix("/api/") {
        let (kind, rest) = rest.split_once('/').unwrap_or(("", ""));
        let Some((repo, tail)) = find(kind, rest) else {
            return error(401, "RepoNotFound", "Repository not found");
        };
        if !authorised(repo) {
            return error(401, "GatedRepo", "Access to this repository is restricted");
        }
        let rev = tail
            .strip_prefix("revision/")
            .unwrap_or("main")
            .replace("%2F", "/");
        let Some(commit) = resolve_rev(repo, &rev) else {
            return error(404, "RevisionNotFound", "Invalid rev id");
        };
        let siblings: Vec<String> = repo
            .files
            .keys()
            .map(|f| format!("{{\"rfilename\":\"{f}\"}}"))
            .collect();
        let json = format!(
            "{{\"id\":\"{}\",\"sha\":\"{commit}\",\"siblings\":[{}]}}",
            repo.id,
            siblings.join(",")
        );
        return answer(
            200,
            vec![("Content-Type", "application/json".into())],
            json.into_bytes(),
        );
    }
    let (kind, rest) = match path.strip_prefix("/datasets/") {
        Some(r) => ("datasets", r),
        None => ("models", path.trim_start_matches('/')),
    };
    let Some((repo, tail)) = find(kind, rest) else {
        return error(401, "RepoNotFound", "Repository not found");
    };
    if !authorised(repo) {
        return error(401, "GatedRepo", "Access to this repository is restricted");
    }
    let Some(tail) = tail.strip_prefix("resolve/") else {
        return answer(404, vec![], vec![]);
    };
    let (rev, file) = tail.split_once('/').unwrap_or((tail, ""));
    let rev = rev.replace("%2F", "/");
    let Some(commit) = resolve_rev(repo, &rev) else {
        return error(404, "RevisionNotFound", "Invalid rev id");
    };
    let Some(bytes) = repo.files.get(file) else {
        return error(404, "EntryNotFound", "Entry not found");
    };
    let sha = sha256_hex(bytes);
    if bytes.len() > LFS_THRESHOLD {
        return answer(
            302,
            vec![
                (
                    "Location",
                    format!("http://{addr}/cdn/{}/{}/{sha}", repo.kind, repo.id),
                ),
                ("X-Repo-Commit", commit),
                ("X-Linked-Etag", format!("\"{sha}\"")),
                ("X-Linked-Size", bytes.len().to_string()),
                ("ETag", "\"not-the-blob\"".into()),
            ],
            vec![],
        );
    }
    // A git file: its etag is the git blob id (40 hex digits) on the Hub.
    let etag = format!("\"{}\"", &sha[..40]);
    let cut = repo.truncate.iter().any(|t| t == file);
    body_with_range(
        bytes,
        headers,
        vec![("X-Repo-Commit", commit), ("ETag", etag)],
        cut,
    )
}

fn resolve_rev(repo: &Repo, rev: &str) -> Option<String> {
    if let Some(c) = repo.refs.get(rev) {
        return Some(c.clone());
    }
    (repo.refs.values().any(|c| c == rev) || rev == repo.commit()).then(|| rev.to_string())
}
