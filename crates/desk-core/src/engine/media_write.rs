//! Where inbound media is written, and which write failures are local: a full disk, a
//! missing permission or a read-only file system say nothing about the download, so the
//! job waits for the condition to clear instead of using up its attempts
//! (docs/architecture.md, invariant 9).

use std::io::{self, ErrorKind};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

/// Whether an I/O error is about this machine rather than the transfer.
pub(crate) fn is_local(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::StorageFull
            | ErrorKind::QuotaExceeded
            | ErrorKind::PermissionDenied
            | ErrorKind::ReadOnlyFilesystem
    )
}

/// A budget of bytes that media downloads may write, shared by clones: once it is spent,
/// writes fail the way a full disk makes them fail (`ENOSPC`, [`ErrorKind::StorageFull`]),
/// after writing what still fits. Raising it is freeing space. For tests and drills.
#[derive(Debug, Clone, Default)]
pub struct WriteBudget(Arc<AtomicU64>);

impl WriteBudget {
    pub fn new(bytes: u64) -> WriteBudget {
        WriteBudget(Arc::new(AtomicU64::new(bytes)))
    }

    /// Sets the bytes left.
    pub fn set(&self, bytes: u64) {
        self.0.store(bytes, Ordering::SeqCst);
    }

    pub fn left(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Takes up to `want` bytes; 0 when spent.
    fn take(&self, want: u64) -> u64 {
        let mut taken = 0;
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                taken = left.min(want);
                Some(left - taken)
            });
        taken
    }

    /// Gives back what was taken but not written.
    fn refund(&self, bytes: u64) {
        self.0.fetch_add(bytes, Ordering::SeqCst);
    }
}

impl PartialEq for WriteBudget {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The disk-full error as the operating system reports it.
fn no_space() -> io::Error {
    #[cfg(unix)]
    {
        // ENOSPC is 28 on Linux, macOS and the BSDs.
        io::Error::from_raw_os_error(28)
    }
    #[cfg(not(unix))]
    {
        io::Error::new(ErrorKind::StorageFull, "no space left on device")
    }
}

/// A writer that spends a [`WriteBudget`], if it has one.
pub(crate) struct BudgetedWriter<W> {
    pub inner: W,
    pub budget: Option<WriteBudget>,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for BudgetedWriter<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let Some(budget) = self.budget.clone() else {
            return Pin::new(&mut self.inner).poll_write(cx, buf);
        };
        if buf.is_empty() {
            return Pin::new(&mut self.inner).poll_write(cx, buf);
        }
        let granted = budget.take(buf.len() as u64);
        if granted == 0 {
            return Poll::Ready(Err(no_space()));
        }
        let result = Pin::new(&mut self.inner).poll_write(cx, &buf[..granted as usize]);
        let written = match &result {
            Poll::Ready(Ok(n)) => *n as u64,
            _ => 0,
        };
        budget.refund(granted - written);
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    #[tokio::test]
    async fn a_spent_budget_fails_like_a_full_disk_after_writing_what_fits() {
        let budget = WriteBudget::new(5);
        let mut w = BudgetedWriter {
            inner: Vec::new(),
            budget: Some(budget.clone()),
        };
        let err = w.write_all(b"0123456789").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::StorageFull);
        assert!(is_local(&err));
        assert_eq!(w.inner, b"01234");
        budget.set(100);
        w.write_all(b"56789").await.unwrap();
        assert_eq!(w.inner, b"0123456789");
        assert_eq!(budget.left(), 95);
        assert!(!is_local(&io::Error::from(ErrorKind::ConnectionReset)));
    }
}
