//! The calls of the `Runs` service, with their failures sorted into [`Error`]s.

use byok8s_proto::v1::runs_client::RunsClient;
use byok8s_proto::v1::{
    CancelRunRequest, GetRunRequest, ListRunsRequest, Run, RunEvent, SubmitRequest, SubmitResponse,
    WatchRunRequest,
};
use tonic::Status;
use tonic::codec::Streaming;
use tonic::transport::Channel;

use crate::retry::Backoff;
use crate::{Error, ServerUrl};

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
}

impl Client {
    pub(crate) fn new(channel: Channel, server: ServerUrl) -> Self {
        // A long run list can outgrow tonic's 4 MiB default for answers.
        let runs = RunsClient::new(channel).max_decoding_message_size(64 * 1024 * 1024);
        Self { runs, server }
    }

    /// The daemon this client talks to.
    pub fn server(&self) -> &ServerUrl {
        &self.server
    }

    /// The generated gRPC client, for calls this wrapper does not offer.
    pub fn runs(&self) -> RunsClient<Channel> {
        self.runs.clone()
    }

    /// Submits a run, retrying when the server cannot be reached.
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
            let outcome = self.runs().submit(request.clone()).await;
            match outcome.map_err(|status| Error::from_status(status, &self.server)) {
                Err(error) if error.is_transient() => match backoff.next_delay() {
                    Some(delay) => tokio::time::sleep(delay).await,
                    None => return Err(error),
                },
                other => return other.map(tonic::Response::into_inner),
            }
        }
    }

    /// One run's current state.
    pub async fn get_run(&self, run_id: &str) -> Result<Run, Error> {
        let request = GetRunRequest {
            run_id: run_id.to_owned(),
        };
        let response = self.runs().get_run(request).await;
        response
            .map(tonic::Response::into_inner)
            .map_err(|s| Error::from_status(s, &self.server))
    }

    /// The runs matching `request`, newest first.
    pub async fn list_runs(&self, request: ListRunsRequest) -> Result<Vec<Run>, Error> {
        let response = self.runs().list_runs(request).await;
        let response = response.map_err(|s| Error::from_status(s, &self.server))?;
        Ok(response.into_inner().runs)
    }

    /// Opens a stream of the run's events; see [`crate::follow`] for following with resume.
    pub async fn watch_run(&self, request: WatchRunRequest) -> Result<Streaming<RunEvent>, Error> {
        let response = self.runs().watch_run(request).await;
        response
            .map(tonic::Response::into_inner)
            .map_err(|s| Error::from_status(s, &self.server))
    }

    /// Asks the server to stop a run and returns the run as it is afterwards.
    pub async fn cancel_run(&self, run_id: &str, reason: &str) -> Result<Run, Error> {
        let request = CancelRunRequest {
            run_id: run_id.to_owned(),
            reason: reason.to_owned(),
        };
        let response = self.runs().cancel_run(request).await;
        response
            .map(tonic::Response::into_inner)
            .map_err(|s| Error::from_status(s, &self.server))
    }
}
