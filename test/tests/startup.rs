//! How byok8sd takes its data directory: any path works, and only one daemon may use it.

use std::process::Stdio;
use std::time::Duration;

use byok8s_tests::{Daemon, Follower, Scratch, run, submit_and_follow};

#[test]
fn a_daemon_given_a_relative_data_directory_runs_workflows() {
    let scratch = Scratch::new();
    let daemon = Daemon::start_relative(&scratch, &[]);
    let example = scratch.workflow("example");

    let outcome = submit_and_follow(&daemon, &example, &["workflow-alpha", "params-blue"]);

    assert_eq!(outcome.code, 0, "{outcome:?}");
    let run_id = byok8s_tests::Events::of(&outcome).run_id();
    let output = daemon
        .data_dir()
        .join("runs")
        .join(run_id)
        .join("work/alpha.txt");
    assert_eq!(std::fs::read_to_string(output).unwrap(), "alpha blue\n");
}

#[test]
fn a_second_daemon_on_a_data_directory_in_use_refuses_to_start_and_leaves_its_runs_alone() {
    let scratch = Scratch::new();
    let daemon = Daemon::start(&scratch, &[]);
    let example = scratch.workflow("example");
    let (_, follower) =
        Follower::submit_under_way(&daemon, &example, &["workflow-zeta", "params-blue"]);

    let mut second = daemon.command();
    second
        .args(["--listen", "127.0.0.1:0"])
        .stdin(Stdio::null());
    let refused = run(&mut second, Duration::from_secs(30));

    assert_ne!(refused.code, 0, "{refused:?}");
    assert!(
        refused.stderr.contains("already using the data directory"),
        "{refused:?}"
    );
    let (code, events) = follower.finish();
    assert_eq!(code, 0, "the first daemon's run goes on undisturbed");
    assert_eq!(events.phases(), ["queued", "running", "succeeded"]);
}

mod grpc {
    use tonic::transport::{Certificate, Channel, ClientTlsConfig};
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    use byok8s_tests::{Daemon, Scratch};

    async fn channel(daemon: &Daemon) -> Channel {
        let ca = std::fs::read(daemon.ca_cert()).expect("the daemon's certificate");
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca))
            .domain_name("localhost");
        Channel::from_shared(daemon.url())
            .expect("a valid URL")
            .tls_config(tls)
            .expect("TLS settings")
            .connect()
            .await
            .expect("connect to byok8sd")
    }

    fn status(response: HealthCheckResponse) -> ServingStatus {
        ServingStatus::try_from(response.status).expect("a known status")
    }

    #[test]
    fn a_serving_daemon_answers_health_checks_and_describes_itself_by_reflection() {
        let scratch = Scratch::new();
        let daemon = Daemon::start(&scratch, &[]);
        let runtime = tokio::runtime::Runtime::new().unwrap();

        runtime.block_on(async {
            let channel = channel(&daemon).await;
            let mut health = HealthClient::new(channel.clone());
            for service in ["", "byok8s.v1.Runs"] {
                let request = HealthCheckRequest {
                    service: service.into(),
                };
                let response = health.check(request).await.unwrap().into_inner();
                assert_eq!(status(response), ServingStatus::Serving, "{service:?}");
            }

            let list = ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::ListServices(String::new())),
            };
            let mut reflection = ServerReflectionClient::new(channel);
            let mut answers = reflection
                .server_reflection_info(tokio_stream::iter([list]))
                .await
                .unwrap()
                .into_inner();
            let answer = answers.message().await.unwrap().expect("an answer");
            let Some(MessageResponse::ListServicesResponse(services)) = answer.message_response
            else {
                panic!("not a list of services: {answer:?}");
            };
            let names: Vec<_> = services.service.iter().map(|s| s.name.as_str()).collect();
            for wanted in ["byok8s.v1.Runs", "grpc.health.v1.Health"] {
                assert!(names.contains(&wanted), "{wanted} in {names:?}");
            }
        });
    }

    #[test]
    fn a_stopping_daemon_reports_not_serving_and_still_exits_under_a_health_watch() {
        let scratch = Scratch::new();
        let mut daemon = Daemon::start(&scratch, &[]);
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let mut watch = runtime.block_on(async {
            let mut health = HealthClient::new(channel(&daemon).await);
            let request = HealthCheckRequest {
                service: "byok8s.v1.Runs".into(),
            };
            let mut watch = health.watch(request).await.unwrap().into_inner();
            let first = watch.message().await.unwrap().expect("the current status");
            assert_eq!(status(first), ServingStatus::Serving);
            watch
        });

        std::thread::scope(|scope| {
            // Fails the test if the daemon has not exited 30s after SIGTERM.
            let stopping = scope.spawn(|| daemon.stop());
            let next = runtime.block_on(watch.message());
            let next = next
                .expect("a status update")
                .expect("an update before the end");
            assert_eq!(status(next), ServingStatus::NotServing);
            stopping
                .join()
                .expect("byok8sd exits while a health watch is open");
        });
    }
}
