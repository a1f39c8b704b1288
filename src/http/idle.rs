//! The no-progress rule for request bodies (SPEC §2.5): a body that delivers no data for 60 s fails with an
//! error, and the response then closes the connection. Slow but steady uploads are never cut off; only
//! silence is. The timer runs only while the handler is actually waiting for the body, so a handler that
//! reads its body late (after a lock, say) is not penalised.

use axum::body::{Body, Bytes};
use futures_util::{Stream, StreamExt};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;

/// Set when a body timed out, so that `wrap` can answer with `Connection: close`.
#[derive(Debug, Clone, Default)]
pub struct Tripped(Arc<AtomicBool>);

impl Tripped {
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// `body` with the no-progress rule applied; `tripped` records a timeout.
pub fn guard(body: Body, idle: Duration, tripped: Tripped) -> Body {
    Body::from_stream(IdleStream {
        inner: body.into_data_stream(),
        idle,
        timer: None,
        tripped,
        done: false,
    })
}

struct IdleStream {
    inner: axum::body::BodyDataStream,
    idle: Duration,
    /// Armed on the first poll that finds no data, cleared whenever data arrives.
    timer: Option<Pin<Box<Sleep>>>,
    tripped: Tripped,
    done: bool,
}

impl Stream for IdleStream {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.inner.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(b))) => {
                self.timer = None;
                Poll::Ready(Some(Ok(b)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.done = true;
                Poll::Ready(Some(Err(std::io::Error::other(e))))
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                let idle = self.idle;
                let timer = self
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                match timer.as_mut().poll(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(()) => {
                        self.done = true;
                        self.tripped.0.store(true, Ordering::Relaxed);
                        Poll::Ready(Some(Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "request body made no progress",
                        ))))
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test(start_paused = true)]
    async fn silence_fails_the_body_and_trips() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
        let inner = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }));
        let tripped = Tripped::default();
        let mut body = guard(inner, Duration::from_secs(60), tripped.clone());
        tx.send(Ok(Bytes::from_static(b"ab"))).await.unwrap();
        let f = body.frame().await.unwrap().unwrap();
        assert_eq!(f.into_data().unwrap(), "ab");
        // 59 s of silence, then data: still fine (progress resets the timer).
        let send_later = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(59)).await;
            tx.send(Ok(Bytes::from_static(b"c"))).await.unwrap();
            tx
        });
        let f = body.frame().await.unwrap().unwrap();
        assert_eq!(f.into_data().unwrap(), "c");
        assert!(!tripped.get());
        let _tx = send_later.await.unwrap();
        // Then 60 s of silence: an error, and the flag is set.
        assert!(body.frame().await.unwrap().is_err());
        assert!(tripped.get());
        assert!(body.frame().await.is_none());
    }
}
