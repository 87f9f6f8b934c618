//! The typing indicator of a run.

use super::*;

/// The typing indicator of one run: started at once, re-sent every keepalive, cancelled
/// at the end — only when the peer has a typing ticket. Gives up after 3 failures.
pub(super) struct Typing {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<bool>,
    shared: Arc<Shared>,
    account_id: String,
    peer_id: String,
}

impl Typing {
    pub(super) fn start(shared: &Arc<Shared>, account_id: &str, peer_id: &str) -> Typing {
        let stop = CancellationToken::new();
        let (s, a, p, c) = (
            Arc::clone(shared),
            account_id.to_owned(),
            peer_id.to_owned(),
            stop.clone(),
        );
        let task = tokio::spawn(async move {
            let keepalive = s.timings.typing_keepalive;
            let (mut started, mut failures) = (false, 0);
            loop {
                // Without a ticket (the server gave none, or getconfig failed and waits
                // for its retry time), nothing is sent; the next keepalive asks again.
                match s.engine.send_typing(&a, &p, true).await {
                    Ok(true) => {
                        started = true;
                        failures = 0;
                    }
                    Ok(false) => {}
                    Err(e) => {
                        failures += 1;
                        tracing::debug!(account_id = a, error = %e, "typing failed");
                        if failures >= 3 {
                            return started;
                        }
                    }
                }
                tokio::select! {
                    () = c.cancelled() => return started,
                    () = tokio::time::sleep(keepalive) => {}
                }
            }
        });
        Typing {
            stop,
            task,
            shared: Arc::clone(shared),
            account_id: account_id.to_owned(),
            peer_id: peer_id.to_owned(),
        }
    }

    /// Stops the keepalive, then cancels (after any start still on the wire).
    pub(super) async fn stop(self) {
        self.stop.cancel();
        let started = self.task.await.unwrap_or(false);
        if started {
            if let Err(e) = self
                .shared
                .engine
                .send_typing(&self.account_id, &self.peer_id, false)
                .await
            {
                tracing::debug!(account_id = self.account_id, error = %e, "typing cancel failed");
            }
        }
    }
}
