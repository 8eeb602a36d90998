//! The server's background tasks, by name. They are started in the order they are
//! added and awaited in that same order at shutdown, so the list reads as the
//! shutdown sequence: listeners drain first, then the producers of internal writes
//! (span metrics, scrapes), then the flusher and maintenance, then storage closes.

use std::future::Future;

use tokio::task::JoinHandle;

/// Named background tasks, awaited in the order they were spawned.
#[derive(Default)]
pub struct Tasks {
    tasks: Vec<(&'static str, JoinHandle<Result<(), String>>)>,
}

impl Tasks {
    /// Starts `task`; an error it ends with is logged under `name` at shutdown.
    pub fn spawn<F, E>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let handle = tokio::spawn(async move { task.await.map_err(|e| e.to_string()) });
        self.tasks.push((name, handle));
    }

    /// Starts a task that cannot fail.
    pub fn spawn_infallible<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.spawn(name, async move {
            task.await;
            Ok::<(), std::convert::Infallible>(())
        });
    }

    /// The names, in shutdown order.
    pub fn names(&self) -> Vec<&'static str> {
        self.tasks.iter().map(|(n, _)| *n).collect()
    }

    /// Waits for every task, in order, logging how each ended.
    pub async fn join_in_order(self) {
        for (name, handle) in self.tasks {
            match handle.await {
                Ok(Ok(())) => tracing::debug!(task = name, "stopped"),
                Ok(Err(e)) => tracing::warn!(task = name, error = %e, "ended with an error"),
                Err(e) => tracing::warn!(task = name, error = %e, "task failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn tasks_are_joined_in_the_order_they_were_added() {
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Tasks::default();
        for (name, delay) in [("first", 30), ("second", 0), ("third", 10)] {
            let order = Arc::clone(&order);
            tasks.spawn_infallible(name, async move {
                tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                order.lock().unwrap().push(name);
            });
        }
        tasks.spawn("failing", async { Err::<(), _>("boom") });
        assert_eq!(tasks.names(), ["first", "second", "third", "failing"]);
        tasks.join_in_order().await;
        // All finished (each in its own time); joining in order waited for all.
        assert_eq!(order.lock().unwrap().len(), 3);
    }
}
