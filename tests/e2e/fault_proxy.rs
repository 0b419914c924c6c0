//! An HTTP/1.1-aware fault-injecting proxy for the tests (issue #13), put between the binary
//! and a real server. It reads each request's line, headers and body (Content-Length or
//! chunked) and each response's status line, headers and body, so it can fault one request
//! of a keep-alive connection and pass the rest: a rule list says which requests (method,
//! path, query) get which fault (an error answer, a reset after K bytes of the request body,
//! a stall, a response body cut after K bytes, a different body with status 200), for the
//! first N matching requests or always. Every request is logged with what was done to it.
//! Plain threads; every socket is shut down when the proxy is dropped.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What is done to a matching request.
#[derive(Clone, Debug)]
pub enum Fault {
    /// The proxy reads the whole request body and answers itself; the server never sees it.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Forwards the request head and this many bytes of its body, then resets both
    /// connections (a link that dies in the middle of an upload).
    ResetAfterRequestBytes(u64),
    /// Reads the request and never answers; the connection stays open (a dead server).
    Stall,
    /// Passes the request; forwards the response head and this many bytes of its body, then
    /// closes the connection (a truncated download).
    TruncateResponse(u64),
    /// Passes the request; answers 200 with these bytes instead of the server's body (a
    /// cache or proxy serving other content).
    ReplaceBody(Vec<u8>),
}

impl Fault {
    /// An S3 error document as S3 sends it (`<Error><Code>…`), e.g. 503 `SlowDown`.
    pub fn s3_error(status: u16, code: &str, message: &str) -> Fault {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>FAULTPROXY</RequestId><HostId>faultproxy</HostId></Error>"
        );
        Fault::Respond {
            status,
            headers: vec![("Content-Type".into(), "application/xml".into())],
            body: body.into_bytes(),
        }
    }

    /// A Cloud Storage JSON API error (`{"error": {"code": …, "message": …, "errors": […]}}`).
    pub fn gcs_error(status: u16, reason: &str, message: &str) -> Fault {
        let body = serde_json::json!({
            "error": {
                "code": status,
                "message": message,
                "errors": [{ "domain": "global", "reason": reason, "message": message }],
            }
        });
        Fault::Respond {
            status,
            headers: vec![(
                "Content-Type".into(),
                "application/json; charset=UTF-8".into(),
            )],
            body: body.to_string().into_bytes(),
        }
    }

    /// A plain-text error answer.
    pub fn status(status: u16, text: &str) -> Fault {
        Fault::Respond {
            status,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: text.as_bytes().to_vec(),
        }
    }

    /// Adds `Retry-After: seconds` to a `Respond`.
    pub fn retry_after(self, seconds: u64) -> Fault {
        match self {
            Fault::Respond {
                status,
                mut headers,
                body,
            } => {
                headers.push(("Retry-After".into(), seconds.to_string()));
                Fault::Respond {
                    status,
                    headers,
                    body,
                }
            }
            other => panic!("Retry-After goes with an answer, not {other:?}"),
        }
    }

    fn describe(&self) -> String {
        match self {
            Fault::Respond { status, .. } => format!("answered {status}"),
            Fault::ResetAfterRequestBytes(k) => format!("reset after {k} body bytes"),
            Fault::Stall => "stalled".into(),
            Fault::TruncateResponse(k) => format!("response cut after {k} body bytes"),
            Fault::ReplaceBody(b) => format!("body replaced by {} other bytes", b.len()),
        }
    }
}

/// Which requests a rule applies to, and how many times.
#[derive(Clone, Debug)]
pub struct Rule {
    method: Option<String>,
    path_contains: Vec<String>,
    query_contains: Vec<String>,
    query_lacks: Vec<String>,
    /// (header name, needle its value must contain).
    header_contains: Vec<(String, String)>,
    /// `None`: every matching request (a persistent fault).
    times: Option<usize>,
    fault: Fault,
}

impl Rule {
    /// Requests with this method (any path).
    pub fn on(method: &str) -> Rule {
        Rule {
            method: Some(method.to_string()),
            path_contains: Vec::new(),
            query_contains: Vec::new(),
            query_lacks: Vec::new(),
            header_contains: Vec::new(),
            times: None,
            fault: Fault::Stall,
        }
    }

    /// ... whose path (before `?`) contains `needle`.
    pub fn path(mut self, needle: &str) -> Rule {
        self.path_contains.push(needle.to_string());
        self
    }

    /// ... whose query string contains `needle`.
    pub fn query(mut self, needle: &str) -> Rule {
        self.query_contains.push(needle.to_string());
        self
    }

    /// ... whose query string (possibly empty) does not contain `needle`.
    pub fn without_query(mut self, needle: &str) -> Rule {
        self.query_lacks.push(needle.to_string());
        self
    }

    /// ... with a header `name` whose value contains `needle`.
    pub fn header(mut self, name: &str, needle: &str) -> Rule {
        self.header_contains
            .push((name.to_string(), needle.to_string()));
        self
    }

    /// Faults the first `n` matching requests, then lets them pass (a transient fault).
    pub fn first(mut self, n: usize, fault: Fault) -> Rule {
        self.times = Some(n);
        self.fault = fault;
        self
    }

    /// Faults every matching request (a persistent fault).
    pub fn always(mut self, fault: Fault) -> Rule {
        self.times = None;
        self.fault = fault;
        self
    }

    fn matches(&self, request: &RequestHead) -> bool {
        let (path, query) = request
            .target
            .split_once('?')
            .unwrap_or((&request.target, ""));
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(&request.method))
            && self.path_contains.iter().all(|n| path.contains(n.as_str()))
            && self
                .query_contains
                .iter()
                .all(|n| query.contains(n.as_str()))
            && !self.query_lacks.iter().any(|n| query.contains(n.as_str()))
            && self
                .header_contains
                .iter()
                .all(|(name, n)| request.header(name).is_some_and(|v| v.contains(n.as_str())))
    }
}

/// One request the proxy saw.
#[derive(Clone, Debug)]
pub struct Logged {
    pub method: String,
    /// Path and query as sent.
    pub target: String,
    /// The rule that faulted it (index in the rule list), if one did.
    pub rule: Option<usize>,
    /// `passed STATUS`, or what the fault did.
    pub outcome: String,
    /// When its head arrived.
    pub at: Instant,
}

struct Shared {
    rules: Vec<Rule>,
    hits: Vec<usize>,
    log: Vec<Logged>,
    sockets: Vec<TcpStream>,
}

/// A running proxy; `addr` is its `IP:PORT`.
pub struct FaultProxy {
    pub addr: String,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    /// A proxy on a free 127.0.0.1 port in front of `upstream` (`IP:PORT`).
    pub fn start(upstream: &str, rules: Vec<Rule>) -> FaultProxy {
        Self::start_on("127.0.0.1:0", upstream, rules)
    }

    /// A proxy listening on `listen` (e.g. `127.0.0.N:80` for the GCS emulators, whose
    /// clients drop the port) in front of `upstream`.
    pub fn start_on(listen: &str, upstream: &str, rules: Vec<Rule>) -> FaultProxy {
        let listener = TcpListener::bind(listen).expect("the fault proxy binds");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let shared = Arc::new(Mutex::new(Shared {
            hits: vec![0; rules.len()],
            rules,
            log: Vec::new(),
            sockets: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (shared, stop) = (shared.clone(), stop.clone());
            let upstream = upstream.to_string();
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            client.set_nonblocking(false).unwrap();
                            let _ = client.set_nodelay(true);
                            track(&shared, &client);
                            let connection = Connection {
                                upstream: upstream.clone(),
                                shared: shared.clone(),
                                stop: stop.clone(),
                            };
                            thread::spawn(move || {
                                let _ = connection.serve(client);
                            });
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => return,
                    }
                }
            });
        }
        FaultProxy { addr, shared, stop }
    }

    /// `http://IP:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many requests rule `index` faulted.
    pub fn injected(&self, index: usize) -> usize {
        self.shared.lock().unwrap().hits[index]
    }

    /// Faults injected by all rules together.
    pub fn injected_total(&self) -> usize {
        self.shared.lock().unwrap().hits.iter().sum()
    }

    /// Every request seen so far, in arrival order.
    pub fn log(&self) -> Vec<Logged> {
        self.shared.lock().unwrap().log.clone()
    }

    /// The log as `METHOD TARGET -> OUTCOME` lines, for assertion messages.
    pub fn log_text(&self) -> String {
        self.log()
            .iter()
            .map(|l| format!("{} {} -> {}", l.method, l.target, l.outcome))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let shared = self.shared.lock().unwrap();
        // Shown with `--nocapture` (and with a failing test's output): the counts in
        // docs/reliability.md come from here.
        eprintln!(
            "fault proxy {}: {} faults injected in {} requests",
            self.addr,
            shared.hits.iter().sum::<usize>(),
            shared.log.len()
        );
        for socket in &shared.sockets {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}

fn track(shared: &Arc<Mutex<Shared>>, socket: &TcpStream) {
    if let Ok(clone) = socket.try_clone() {
        shared.lock().unwrap().sockets.push(clone);
    }
}

/// A request's line and headers, as received.
struct RequestHead {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl RequestHead {
    fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// How a message's body ends.
#[derive(Clone, Copy, Debug)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    /// The server closes the connection at its end (responses only).
    UntilClose,
}

fn framing(headers: &[(String, String)], until_close_allowed: bool) -> Framing {
    if header(headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        Framing::Chunked
    } else if let Some(n) = header(headers, "content-length").and_then(|v| v.trim().parse().ok()) {
        Framing::Length(n)
    } else if until_close_allowed {
        Framing::UntilClose
    } else {
        Framing::None
    }
}

fn wants_close(headers: &[(String, String)]) -> bool {
    header(headers, "connection").is_some_and(|v| v.to_ascii_lowercase().contains("close"))
}

/// A message head: its start line and its headers (names as sent).
type Head = (String, Vec<(String, String)>);

/// Reads a head (start line and headers, up to the empty line). `None` at a clean EOF before
/// its first byte.
fn read_head(reader: &mut impl BufRead) -> std::io::Result<Option<Head>> {
    let mut start = String::new();
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return if start.is_empty() {
                Ok(None)
            } else {
                Err(ErrorKind::UnexpectedEof.into())
            };
        }
        let line = String::from_utf8_lossy(&line).trim_end().to_string();
        // Blank lines before a request line are allowed (RFC 9112 §2.2).
        if !line.is_empty() {
            start = line;
            break;
        }
    }
    let mut headers = Vec::new();
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        let line = String::from_utf8_lossy(&line).trim_end().to_string();
        if line.is_empty() {
            return Ok(Some((start, headers)));
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
}

fn write_head(
    to: &mut impl Write,
    start: &str,
    headers: &[(String, String)],
) -> std::io::Result<()> {
    let mut head = format!("{start}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    to.write_all(head.as_bytes())
}

/// Copies a body framed by `framing` from `from` to `to` (the framing bytes included), at most
/// `limit` bytes of it (counted on the wire). Returns the bytes copied; `to = None` discards.
fn copy_body(
    from: &mut impl BufRead,
    mut to: Option<&mut dyn Write>,
    framing: Framing,
    limit: u64,
) -> std::io::Result<u64> {
    let mut copied = 0u64;
    let mut pass = |bytes: &[u8], to: &mut Option<&mut dyn Write>| -> std::io::Result<bool> {
        let room = limit.saturating_sub(copied) as usize;
        let take = bytes.len().min(room);
        if let Some(to) = to {
            to.write_all(&bytes[..take])?;
        }
        copied += take as u64;
        Ok(take == bytes.len())
    };
    const BUFFER: usize = 64 * 1024;
    let mut buffer = vec![0u8; BUFFER];
    match framing {
        Framing::None => {}
        Framing::Length(mut left) => {
            while left > 0 {
                let n = from.read(&mut buffer[..(left.min(BUFFER as u64) as usize)])?;
                if n == 0 {
                    return Err(ErrorKind::UnexpectedEof.into());
                }
                left -= n as u64;
                if !pass(&buffer[..n], &mut to)? {
                    return Ok(copied);
                }
            }
        }
        Framing::UntilClose => loop {
            let n = from.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            if !pass(&buffer[..n], &mut to)? {
                return Ok(copied);
            }
        },
        Framing::Chunked => loop {
            let mut size_line = Vec::new();
            if from.read_until(b'\n', &mut size_line)? == 0 {
                return Err(ErrorKind::UnexpectedEof.into());
            }
            if !pass(&size_line, &mut to)? {
                return Ok(copied);
            }
            let text = String::from_utf8_lossy(&size_line);
            let size_hex = text.trim().split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size_hex, 16)
                .map_err(|_| std::io::Error::new(ErrorKind::InvalidData, "bad chunk size"))?;
            if size == 0 {
                // Trailers up to the empty line.
                loop {
                    let mut line = Vec::new();
                    if from.read_until(b'\n', &mut line)? == 0 {
                        return Err(ErrorKind::UnexpectedEof.into());
                    }
                    if !pass(&line, &mut to)? {
                        return Ok(copied);
                    }
                    if line == b"\r\n" || line == b"\n" {
                        return Ok(copied);
                    }
                }
            }
            // The chunk's data and its CRLF.
            let mut left = size + 2;
            while left > 0 {
                let n = from.read(&mut buffer[..(left.min(BUFFER as u64) as usize)])?;
                if n == 0 {
                    return Err(ErrorKind::UnexpectedEof.into());
                }
                left -= n as u64;
                if !pass(&buffer[..n], &mut to)? {
                    return Ok(copied);
                }
            }
        },
    }
    Ok(copied)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Fault",
    }
}

/// Closes `socket` with a TCP reset rather than a FIN.
fn reset(socket: &TcpStream) {
    let _ = socket2::SockRef::from(socket).set_linger(Some(Duration::ZERO));
    let _ = socket.shutdown(Shutdown::Both);
}

/// One client connection and the upstream connection it uses (opened when first needed,
/// opened again after the server closed it).
struct Connection {
    upstream: String,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
}

struct Upstream {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Connection {
    fn connect(&self) -> std::io::Result<Upstream> {
        let server = TcpStream::connect(&self.upstream)?;
        let _ = server.set_nodelay(true);
        track(&self.shared, &server);
        Ok(Upstream {
            reader: BufReader::with_capacity(64 * 1024, server.try_clone()?),
            writer: server,
        })
    }

    /// The rule that faults this request, counted, and the log entry's index.
    fn decide(&self, request: &RequestHead) -> (Option<(usize, Fault)>, usize) {
        let mut shared = self.shared.lock().unwrap();
        let mut chosen = None;
        for (index, rule) in shared.rules.iter().enumerate() {
            if rule.matches(request) && rule.times.is_none_or(|n| shared.hits[index] < n) {
                chosen = Some((index, rule.fault.clone()));
                break;
            }
        }
        if let Some((index, _)) = &chosen {
            shared.hits[*index] += 1;
        }
        shared.log.push(Logged {
            method: request.method.clone(),
            target: request.target.clone(),
            rule: chosen.as_ref().map(|(i, _)| *i),
            outcome: chosen
                .as_ref()
                .map(|(_, f)| f.describe())
                .unwrap_or_else(|| "passed".into()),
            at: Instant::now(),
        });
        (chosen, shared.log.len() - 1)
    }

    fn note_status(&self, entry: usize, status: u16) {
        let mut shared = self.shared.lock().unwrap();
        let outcome = &mut shared.log[entry].outcome;
        if outcome == "passed" {
            *outcome = format!("passed {status}");
        }
    }

    fn serve(self, client: TcpStream) -> std::io::Result<()> {
        let mut from_client = BufReader::with_capacity(64 * 1024, client.try_clone()?);
        let mut to_client = client;
        let mut upstream: Option<Upstream> = None;
        loop {
            let Some((line, mut headers)) = read_head(&mut from_client)? else {
                return Ok(());
            };
            let mut parts = line.split_whitespace();
            let request = RequestHead {
                method: parts.next().unwrap_or_default().to_string(),
                target: parts.next().unwrap_or_default().to_string(),
                headers: headers.clone(),
            };
            let request_framing = framing(&headers, false);
            let client_closes = wants_close(&headers);
            // The proxy answers `Expect: 100-continue` itself, so that it can read the body
            // before it decides (or passes) the request.
            if request
                .header("expect")
                .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
            {
                headers.retain(|(n, _)| !n.eq_ignore_ascii_case("expect"));
                to_client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            }
            let (fault, entry) = self.decide(&request);
            match fault.map(|(_, f)| f) {
                Some(Fault::Respond {
                    status,
                    headers: extra,
                    body,
                }) => {
                    copy_body(&mut from_client, None, request_framing, u64::MAX)?;
                    let mut answer = vec![("Content-Length".to_string(), body.len().to_string())];
                    answer.extend(extra);
                    write_head(
                        &mut to_client,
                        &format!("HTTP/1.1 {status} {}", reason(status)),
                        &answer,
                    )?;
                    if request.method != "HEAD" {
                        to_client.write_all(&body)?;
                    }
                    to_client.flush()?;
                }
                Some(Fault::ResetAfterRequestBytes(k)) => {
                    let mut server = self.connect()?;
                    write_head(&mut server.writer, &line, &headers)?;
                    let _ = copy_body(
                        &mut from_client,
                        Some(&mut server.writer),
                        request_framing,
                        k,
                    );
                    reset(&server.writer);
                    reset(&to_client);
                    return Ok(());
                }
                Some(Fault::Stall) => {
                    while !self.stop.load(Ordering::SeqCst) {
                        thread::sleep(Duration::from_millis(20));
                    }
                    return Ok(());
                }
                passing => {
                    if upstream.is_none() {
                        upstream = Some(self.connect()?);
                    }
                    let server = upstream.as_mut().unwrap();
                    write_head(&mut server.writer, &line, &headers)?;
                    copy_body(
                        &mut from_client,
                        Some(&mut server.writer),
                        request_framing,
                        u64::MAX,
                    )?;
                    server.writer.flush()?;
                    // Interim 1xx answers are passed on as they come.
                    let (status_line, response_headers, status) = loop {
                        let Some((status_line, response_headers)) = read_head(&mut server.reader)?
                        else {
                            // The server closed without answering: so does the proxy.
                            reset(&to_client);
                            return Ok(());
                        };
                        let status: u16 = status_line
                            .split_whitespace()
                            .nth(1)
                            .and_then(|s| s.parse().ok())
                            .unwrap_or(0);
                        if (100..200).contains(&status) {
                            write_head(&mut to_client, &status_line, &response_headers)?;
                            continue;
                        }
                        break (status_line, response_headers, status);
                    };
                    self.note_status(entry, status);
                    let response_framing =
                        if request.method == "HEAD" || status == 204 || status == 304 {
                            Framing::None
                        } else {
                            framing(&response_headers, true)
                        };
                    let server_closes = wants_close(&response_headers)
                        || matches!(response_framing, Framing::UntilClose);
                    match passing {
                        Some(Fault::TruncateResponse(k)) => {
                            write_head(&mut to_client, &status_line, &response_headers)?;
                            let _ = copy_body(
                                &mut server.reader,
                                Some(&mut to_client),
                                response_framing,
                                k,
                            );
                            let _ = to_client.flush();
                            let _ = to_client.shutdown(Shutdown::Both);
                            let _ = server.writer.shutdown(Shutdown::Both);
                            return Ok(());
                        }
                        Some(Fault::ReplaceBody(other)) => {
                            copy_body(&mut server.reader, None, response_framing, u64::MAX)?;
                            let mut replaced: Vec<(String, String)> = response_headers
                                .into_iter()
                                .filter(|(n, _)| {
                                    !["content-length", "transfer-encoding", "etag"]
                                        .iter()
                                        .any(|h| n.eq_ignore_ascii_case(h))
                                })
                                .collect();
                            replaced.push(("Content-Length".into(), other.len().to_string()));
                            write_head(&mut to_client, "HTTP/1.1 200 OK", &replaced)?;
                            to_client.write_all(&other)?;
                        }
                        _ => {
                            write_head(&mut to_client, &status_line, &response_headers)?;
                            copy_body(
                                &mut server.reader,
                                Some(&mut to_client),
                                response_framing,
                                u64::MAX,
                            )?;
                        }
                    }
                    to_client.flush()?;
                    if server_closes {
                        upstream = None;
                        if matches!(response_framing, Framing::UntilClose) {
                            let _ = to_client.shutdown(Shutdown::Both);
                            return Ok(());
                        }
                    }
                }
            }
            if client_closes {
                let _ = to_client.shutdown(Shutdown::Both);
                return Ok(());
            }
        }
    }
}
