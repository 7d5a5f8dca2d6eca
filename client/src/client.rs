//! The calls of the `Runs` service, each with a deadline, with their failures sorted into
//! [`Error`]s.

use std::future::Future;
use std::time::Duration;

use byok8s_proto::v1::runs_client::RunsClient;
use byok8s_proto::v1::{
    CancelRunRequest, GetRunRequest, ListRunsRequest, Run, RunEvent, SubmitRequest, SubmitResponse,
    WatchRunRequest,
};
use tonic::codec::Streaming;
use tonic::transport::Channel;
use tonic::{Response, Status};

use crate::retry::Backoff;
use crate::{ConnectOptions, Error, ServerUrl};

/// The run a submission created, or found when its idempotency key was seen before.
#[derive(Debug, Clone, PartialEq)]
pub struct Submitted {
    /// The run.
    pub run: Run,
    /// True when the key matched an earlier submission and no new run was created.
    pub existing: bool,
}

/// A connection to one byok8sd; cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    runs: RunsClient<Channel>,
    server: ServerUrl,
    call_timeout: Duration,
    submit_timeout: Duration,
}

/// A call the server accepted but did not answer in time.
#[derive(Debug, thiserror::Error)]
#[error("no answer to {rpc} within {}s", .limit.as_secs())]
struct NoAnswer {
    rpc: &'static str,
    limit: Duration,
}

impl Client {
    /// A client over a channel the caller built, for transports [`crate::connect`] does not
    /// offer (a proxy, an in-process server). `options` supplies the URL shown in errors and
    /// the call timeouts; its TLS settings are not used.
    pub fn from_channel(channel: Channel, options: &ConnectOptions) -> Self {
        // A long run list can outgrow tonic's 4 MiB default for answers.
        let runs = RunsClient::new(channel).max_decoding_message_size(64 * 1024 * 1024);
        Self {
            runs,
            server: options.server.clone(),
            call_timeout: options.call_timeout,
            submit_timeout: options.submit_timeout,
        }
    }

    /// The daemon this client talks to.
    pub fn server(&self) -> &ServerUrl {
        &self.server
    }

    /// The generated gRPC client, for calls this wrapper does not offer.
    pub fn runs(&self) -> RunsClient<Channel> {
        self.runs.clone()
    }

    /// Submits a run, retrying when the server cannot be reached (connecting included) or
    /// does not answer in time.
    ///
    /// Retrying is safe because the request always carries an idempotency key: a fresh one is
    /// made when `request` has none, and every attempt reuses it.
    pub async fn submit(&self, mut request: SubmitRequest) -> Result<Submitted, Error> {
        if request.idempotency_key.is_empty() {
            request.idempotency_key = ulid::Ulid::new().to_string();
        }
        let response = self.submit_with_retries(request).await?;
        match response.run {
            Some(run) => Ok(Submitted {
                run,
                existing: response.existing,
            }),
            None => {
                let status = Status::internal("the server's answer to Submit holds no run");
                Err(Error::from_status(status, &self.server))
            }
        }
    }

    async fn submit_with_retries(&self, request: SubmitRequest) -> Result<SubmitResponse, Error> {
        let mut backoff = Backoff::for_submit();
        loop {
            let mut runs = self.runs();
            let attempt = runs.submit(request.clone());
            match self.answer("Submit", self.submit_timeout, attempt).await {
                Err(error) if error.is_transient() => match backoff.next_delay() {
                    Some(delay) => tokio::time::sleep(delay).await,
                    None => return Err(error),
                },
                other => return other,
            }
        }
    }

    /// One run's current state.
    pub async fn get_run(&self, run_id: &str) -> Result<Run, Error> {
        let request = GetRunRequest {
            run_id: run_id.to_owned(),
        };
        let mut runs = self.runs();
        self.answer("GetRun", self.call_timeout, runs.get_run(request))
            .await
    }

    /// The runs matching `request`, newest first.
    pub async fn list_runs(&self, request: ListRunsRequest) -> Result<Vec<Run>, Error> {
        let mut runs = self.runs();
        let response = self.answer("ListRuns", self.call_timeout, runs.list_runs(request));
        Ok(response.await?.runs)
    }

    /// Opens a stream of the run's events; see [`crate::follow`] for following with resume.
    ///
    /// Only opening the stream has a deadline: a followed run may stay quiet for hours, and a
    /// dead connection is noticed by HTTP/2 pings instead.
    pub async fn watch_run(&self, request: WatchRunRequest) -> Result<Streaming<RunEvent>, Error> {
        let mut runs = self.runs();
        self.answer("WatchRun", self.call_timeout, runs.watch_run(request))
            .await
    }

    /// Asks the server to stop a run and returns the run as it is afterwards.
    pub async fn cancel_run(&self, run_id: &str, reason: &str) -> Result<Run, Error> {
        let request = CancelRunRequest {
            run_id: run_id.to_owned(),
            reason: reason.to_owned(),
        };
        let mut runs = self.runs();
        self.answer("CancelRun", self.call_timeout, runs.cancel_run(request))
            .await
    }

    async fn answer<T>(
        &self,
        rpc: &'static str,
        limit: Duration,
        call: impl Future<Output = Result<Response<T>, Status>>,
    ) -> Result<T, Error> {
        answer_within(limit, rpc, &self.server, call).await
    }
}

/// The call's answer, or an unreachable-server error once `limit` has passed; dropping the
/// call resets its HTTP/2 stream, so the server stops working on it too.
async fn answer_within<T>(
    limit: Duration,
    rpc: &'static str,
    server: &ServerUrl,
    call: impl Future<Output = Result<Response<T>, Status>>,
) -> Result<T, Error> {
    match tokio::time::timeout(limit, call).await {
        Ok(answer) => answer
            .map(Response::into_inner)
            .map_err(|status| Error::from_status(status, server)),
        Err(_) => Err(Error::Unreachable {
            server: server.clone(),
            source: Box::new(NoAnswer { rpc, limit }),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> ServerUrl {
        ServerUrl::parse("https://127.0.0.1:50051").unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_without_answer_ends_at_its_deadline_as_unreachable() {
        let started = tokio::time::Instant::now();
        let stalled = std::future::pending::<Result<Response<Run>, Status>>();
        let limit = Duration::from_secs(60);
        let err = answer_within(limit, "GetRun", &server(), stalled)
            .await
            .unwrap_err();
        assert_eq!(started.elapsed(), limit);
        assert_eq!(err.exit_code().as_u8(), 4);
        let cause = std::error::Error::source(&err).unwrap().to_string();
        assert_eq!(cause, "no answer to GetRun within 60s");
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_in_time_is_returned() {
        let answered = async { Ok(Response::new(7)) };
        let value = answer_within(Duration::from_secs(1), "GetRun", &server(), answered).await;
        assert_eq!(value.unwrap(), 7);
    }
}
