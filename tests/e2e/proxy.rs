//! A TCP proxy for the tests, put between the binary and a real server: it counts the bytes
//! the client sends, and can shape them (a slow but moving link, a link that stalls after K
//! bytes of each connection). Plain threads, stopped on drop.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

/// What the proxy does to the bytes going from the client to the server.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// Forwards everything at once.
    Pass,
    /// At most this many bytes per second on each connection, in twenty steps a second:
    /// slow, never idle.
    Throttle { bytes_per_second: u64 },
    /// Forwards this many bytes of each connection, then reads nothing more (the connection
    /// stays open, as on a dead link).
    StallAfter(u64),
    /// Forwards everything, but the first request whose bytes hold both strings gets no
    /// reply: the server handles it, and the proxy closes the client's connection instead of
    /// passing the answer on (a reply lost on the way back).
    DropReplyTo(&'static str, &'static str),
}

/// A running proxy; `addr` is its `127.0.0.1:PORT`.
pub struct Proxy {
    pub addr: String,
    /// Set once a `DropReplyTo` reply was dropped.
    pub dropped: Arc<AtomicBool>,
    /// Bytes forwarded from clients to the server, all connections together.
    pub upstream_bytes: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    pub fn start(upstream: &str, shape: Shape) -> Proxy {
        // A small receive buffer, set before listening so accepted connections inherit it:
        // otherwise the kernel would absorb tens of MiB before a stall shows at the client.
        let socket = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )
        .unwrap();
        socket.set_recv_buffer_size(64 * 1024).unwrap();
        socket
            .bind(
                &"127.0.0.1:0"
                    .parse::<std::net::SocketAddr>()
                    .unwrap()
                    .into(),
            )
            .unwrap();
        socket.listen(64).unwrap();
        let listener: TcpListener = socket.into();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let counted = Arc::new(AtomicU64::new(0));
        let dropped = Arc::new(AtomicBool::new(false));
        let upstream = upstream.to_string();
        {
            let stop = stop.clone();
            let counted = counted.clone();
            let dropped = dropped.clone();
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            client.set_nonblocking(false).unwrap();
                            let Ok(server) = TcpStream::connect(&upstream) else {
                                continue;
                            };
                            connect_pair(
                                client,
                                server,
                                shape,
                                stop.clone(),
                                counted.clone(),
                                dropped.clone(),
                            );
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => return,
                    }
                }
            });
        }
        Proxy {
            addr,
            dropped,
            upstream_bytes: counted,
            stop,
        }
    }

    /// `http://127.0.0.1:PORT/{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    pub fn bytes(&self) -> u64 {
        self.upstream_bytes.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn connect_pair(
    client: TcpStream,
    server: TcpStream,
    shape: Shape,
    stop: Arc<AtomicBool>,
    counted: Arc<AtomicU64>,
    dropped: Arc<AtomicBool>,
) {
    // Set by the client→server pump when this connection carries the request whose reply
    // is to be lost; read by the server→client pump.
    let lose_reply = Arc::new(AtomicBool::new(false));
    for s in [&client, &server] {
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let _ = s.set_nodelay(true);
    }
    let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    {
        let stop = stop.clone();
        let lose_reply = lose_reply.clone();
        thread::spawn(move || {
            pump(
                client,
                server,
                shape,
                stop,
                Some(counted),
                Some((lose_reply, dropped)),
            )
        });
    }
    thread::spawn(move || reply_pump(s2, c2, stop, lose_reply));
}

/// Copies server → client, unless the request on this connection is to get no reply: then
/// the client's connection is closed as soon as the server answers.
fn reply_pump(
    mut from: TcpStream,
    mut to: TcpStream,
    stop: Arc<AtomicBool>,
    lose_reply: Arc<AtomicBool>,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::SeqCst) {
        let n = match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => break,
        };
        if lose_reply.load(Ordering::SeqCst) {
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
            return;
        }
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

/// Copies `from` → `to` with `shape` until EOF, an error, or the proxy stops.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    shape: Shape,
    stop: Arc<AtomicBool>,
    counted: Option<Arc<AtomicU64>>,
    lose: Option<(Arc<AtomicBool>, Arc<AtomicBool>)>,
) {
    // A step of a throttled link moves a twentieth of its rate, so the buffer must hold one.
    let step = match shape {
        Shape::Throttle { bytes_per_second } => (bytes_per_second / 20).max(1) as usize,
        _ => 64 * 1024,
    };
    let mut buffer = vec![0u8; step.max(64 * 1024)];
    let mut forwarded = 0u64;
    loop {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let limit = match shape {
            Shape::Pass | Shape::DropReplyTo(..) => buffer.len(),
            // Twenty steps a second.
            Shape::Throttle { .. } => step,
            Shape::StallAfter(k) => {
                if forwarded >= k {
                    thread::sleep(Duration::from_millis(20));
                    continue;
                }
                ((k - forwarded) as usize).min(buffer.len())
            }
        };
        let n = match from.read(&mut buffer[..limit]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => break,
        };
        if let (Shape::DropReplyTo(a, b), Some((lose_reply, dropped))) = (shape, &lose) {
            let text = String::from_utf8_lossy(&buffer[..n]);
            if text.contains(a) && text.contains(b) && !dropped.swap(true, Ordering::SeqCst) {
                lose_reply.store(true, Ordering::SeqCst);
            }
        }
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
        forwarded += n as u64;
        if let Some(counted) = &counted {
            counted.fetch_add(n as u64, Ordering::SeqCst);
        }
        if let Shape::Throttle { .. } = shape {
            thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}
