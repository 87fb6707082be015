//! Tests of `loopback`.

use super::*;

#[test]
fn pages_escape_what_the_query_carried() {
    let p = error_page("<script>alert(1)</script>");
    assert!(!p.contains("<script>"), "{p}");
    assert!(p.contains("&lt;script&gt;"));
}

#[test]
fn durations_read_naturally() {
    assert_eq!(describe(Duration::from_secs(300)), "5 minutes");
    assert_eq!(describe(Duration::from_secs(60)), "1 minute");
    assert_eq!(describe(Duration::from_secs(90)), "90 seconds");
}

#[test]
fn parameters_are_read_once() {
    let url = Url::parse("http://127.0.0.1:1/callback?code=c1&state=s&code=c2&x=1").expect("url");
    assert_eq!(param(&url, "code").as_deref(), Some("c1"));
    assert_eq!(param(&url, "state").as_deref(), Some("s"));
    assert_eq!(param(&url, "error"), None);
}

#[tokio::test]
async fn the_listener_ignores_other_paths_and_idle_connections() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let client = tokio::spawn(async move {
        // A speculative connection that never speaks must not block the rest.
        let _idle = TcpStream::connect(addr).await.expect("connect");
        let mut fav = TcpStream::connect(addr).await.expect("connect");
        fav.write_all(b"GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let mut answer = String::new();
        fav.read_to_string(&mut answer).await.expect("read");
        assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
        let mut cb = TcpStream::connect(addr).await.expect("connect");
        cb.write_all(b"GET /callback?code=abc&state=xyz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let mut answer = String::new();
        cb.read_to_string(&mut answer).await.expect("read");
        answer
    });
    let (mut stream, url) =
        tokio::time::timeout(Duration::from_secs(5), wait_for_callback(&listener))
            .await
            .expect("callback arrives");
    assert_eq!(param(&url, "code").as_deref(), Some("abc"));
    assert_eq!(param(&url, "state").as_deref(), Some("xyz"));
    respond(&mut stream, "200 OK", &success_page()).await;
    drop(stream);
    let answer = client.await.expect("client");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("Connection: close"));
    assert!(answer.contains("you can close this tab"));
}

#[tokio::test]
async fn oversized_requests_are_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        serve_connection(stream).await.is_none()
    });
    let mut c = TcpStream::connect(addr).await.expect("connect");
    let big = format!("GET /callback?{} HTTP/1.1\r\n", "a".repeat(20_000));
    let _ = c.write_all(big.as_bytes()).await;
    let mut answer = String::new();
    let _ = c.read_to_string(&mut answer).await;
    assert!(server.await.expect("server"), "not handed on as a callback");
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}
