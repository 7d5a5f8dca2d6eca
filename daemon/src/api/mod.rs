//! The gRPC service: one method per RPC, each in its own span, delegating to the scheduler.

mod convert;

use byok8s_proto::v1::runs_server::Runs;
use byok8s_proto::v1::{
    CancelRunRequest, EventKind, GetRunRequest, ListRunsRequest, ListRunsResponse, Run, RunEvent,
    SubmitRequest, SubmitResponse, WatchRunRequest,
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::error::Error;
use crate::events::WatchRequest;
use crate::run::is_terminal;
use crate::scheduler::Scheduler;

/// Every caller is this user until authentication exists.
const ANONYMOUS: &str = "anonymous";

pub struct RunsService {
    scheduler: Scheduler,
}

impl RunsService {
    pub fn new(scheduler: Scheduler) -> RunsService {
        RunsService { scheduler }
    }
}

#[tonic::async_trait]
impl Runs for RunsService {
    #[tracing::instrument(skip_all, fields(rpc = "Submit"))]
    async fn submit(
        &self,
        request: Request<SubmitRequest>,
    ) -> Result<Response<SubmitResponse>, Status> {
        let (run, existing) = self
            .scheduler
            .submit(ANONYMOUS, request.into_inner())
            .await?;
        let run = Some(convert::run_to_proto(run));
        Ok(Response::new(SubmitResponse { run, existing }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetRun", run_id = %request.get_ref().run_id))]
    async fn get_run(&self, request: Request<GetRunRequest>) -> Result<Response<Run>, Status> {
        let run = self.scheduler.get(&request.into_inner().run_id).await?;
        Ok(Response::new(convert::run_to_proto(run)))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListRuns"))]
    async fn list_runs(
        &self,
        request: Request<ListRunsRequest>,
    ) -> Result<Response<ListRunsResponse>, Status> {
        let runs = self
            .scheduler
            .list(convert::list_filter(request.into_inner()))
            .await?;
        let runs = runs.into_iter().map(convert::run_to_proto).collect();
        Ok(Response::new(ListRunsResponse { runs }))
    }

    type WatchRunStream = ReceiverStream<Result<RunEvent, Status>>;

    #[tracing::instrument(skip_all, fields(rpc = "WatchRun", run_id = %request.get_ref().run_id))]
    async fn watch_run(
        &self,
        request: Request<WatchRunRequest>,
    ) -> Result<Response<Self::WatchRunStream>, Status> {
        let request = request.into_inner();
        let run = self.scheduler.get(&request.run_id).await?;
        // Every event a watcher can have seen is stored before it is sent, so a position past
        // the newest one is a mistake; silence would look like a run with nothing to tell.
        if request.after_seq > run.last_seq {
            return Err(Error::InvalidArgument(format!(
                "after_seq: run {} has {} events, so there is nothing after event {}",
                run.id, run.last_seq, request.after_seq
            ))
            .into());
        }
        let kinds = request
            .kinds
            .iter()
            .filter_map(|k| EventKind::try_from(*k).ok())
            .collect();
        let stream = self.scheduler.events().watch(WatchRequest {
            run_id: run.id,
            after_seq: request.after_seq,
            follow: request.follow,
            kinds,
            finished: is_terminal(run.phase),
        });
        Ok(Response::new(stream))
    }

    #[tracing::instrument(skip_all, fields(rpc = "CancelRun", run_id = %request.get_ref().run_id))]
    async fn cancel_run(
        &self,
        request: Request<CancelRunRequest>,
    ) -> Result<Response<Run>, Status> {
        let request = request.into_inner();
        let run = self
            .scheduler
            .cancel(&request.run_id, request.reason)
            .await?;
        Ok(Response::new(convert::run_to_proto(run)))
    }
}
