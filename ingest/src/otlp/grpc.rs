//! OTLP/gRPC services: the handlers of the three Export methods, served by
//! `grpc_server.rs`.

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{self, LogsService};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    self, MetricsService,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use osprey_storage::Signal;
use prost::Message;
use tonic::{Request, Response, Status};

use super::Pipeline;
use super::grpc_server::{BoxFuture, Export, ExportServer, RawMessage, malformed};
use crate::limits::Kind;
use crate::{IngestError, IngestState};

#[derive(Clone)]
pub struct Otlp(pub IngestState);

/// The tenant the listener's context layer decided (`osprey_auth::GrpcContextLayer`).
fn tenant<T>(req: &Request<T>) -> Result<String, Status> {
    osprey_auth::grpc_context(req).map(|ctx| ctx.tenant().to_string())
}

fn fail(e: IngestError) -> Status {
    if e.is_server_fault() {
        tracing::error!(error = %e, "OTLP/gRPC ingest failed");
    }
    e.grpc_status()
}

#[tonic::async_trait]
impl LogsService for Otlp {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let tenant = tenant(&request)?;
        let req = request.into_inner();
        self.0.metrics.bytes(Signal::Logs, req.encoded_len() as u64);
        let o = Pipeline::logs(&self.0, &tenant, &req).await.map_err(fail)?;
        Ok(Response::new(ExportLogsServiceResponse {
            partial_success: o.partial().map(|(n, m)| ExportLogsPartialSuccess {
                rejected_log_records: n,
                error_message: m,
            }),
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for Otlp {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let tenant = tenant(&request)?;
        let req = request.into_inner();
        self.0
            .metrics
            .bytes(Signal::Metrics, req.encoded_len() as u64);
        let o = Pipeline::metrics(&self.0, &tenant, req, false)
            .await
            .map_err(fail)?;
        Ok(Response::new(ExportMetricsServiceResponse {
            partial_success: o.partial().map(|(n, m)| ExportMetricsPartialSuccess {
                rejected_data_points: n,
                error_message: m,
            }),
        }))
    }
}

/// The handlers as the three Export methods of [`ExportServer`].
macro_rules! export {
    ($name:ident, $trait:ident, $req:ty, $resp:ty, $service:expr, $kind:expr) => {
        #[derive(Clone)]
        pub struct $name(Otlp);

        impl Export for $name {
            type Req = $req;
            type Resp = $resp;
            const SERVICE: &'static str = $service;
            const REQUEST: &'static str = stringify!($req);
            const KIND: Kind = $kind;

            fn export(&self, req: Request<$req>) -> BoxFuture<Result<Response<$resp>, Status>> {
                let otlp = self.0.clone();
                Box::pin(async move { $trait::export(&otlp, req).await })
            }
        }
    };
}

/// Traces' Export method: a single node reads the message from the wire
/// (`traces_wire.rs`); a cluster, or a message the wire path leaves to prost, decodes
/// it with prost for [`Pipeline::traces`].
#[derive(Clone)]
pub struct Traces(Otlp);

impl Export for Traces {
    type Req = RawMessage;
    type Resp = ExportTraceServiceResponse;
    const SERVICE: &'static str = trace_service_server::SERVICE_NAME;
    const REQUEST: &'static str = "ExportTraceServiceRequest";
    const KIND: Kind = Kind::Traces;

    fn export(
        &self,
        req: Request<RawMessage>,
    ) -> BoxFuture<Result<Response<ExportTraceServiceResponse>, Status>> {
        let otlp = self.0.clone();
        Box::pin(async move {
            let st = &otlp.0;
            let tenant = tenant(&req)?;
            let raw = req.into_inner().0;
            st.metrics.bytes(Signal::Spans, raw.len() as u64);
            let fast = match st.forward {
                None => Pipeline::traces_from_wire(st, &tenant, &raw)
                    .await
                    .map_err(fail)?,
                Some(_) => None,
            };
            let o = match fast {
                Some(o) => o,
                None => {
                    let decoded = ExportTraceServiceRequest::decode(raw)
                        .map_err(|e| malformed::<Self>(&e))?;
                    Pipeline::traces(st, &tenant, decoded).await.map_err(fail)?
                }
            };
            Ok(Response::new(trace_response(&o)))
        })
    }
}

fn trace_response(o: &super::Outcome) -> ExportTraceServiceResponse {
    ExportTraceServiceResponse {
        partial_success: o.partial().map(|(n, m)| ExportTracePartialSuccess {
            rejected_spans: n,
            error_message: m,
        }),
    }
}
export!(
    Logs,
    LogsService,
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
    logs_service_server::SERVICE_NAME,
    Kind::Logs
);
export!(
    Metrics,
    MetricsService,
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
    metrics_service_server::SERVICE_NAME,
    Kind::Metrics
);

/// The three OTLP gRPC services, ready to be served by tonic (`grpc_server.rs`: gzip
/// accepted and sent, messages up to `server.max_body_size`, every fault of a request
/// INVALID_ARGUMENT).
pub fn routes(st: IngestState) -> tonic::service::Routes {
    let limit = usize::try_from(st.max_body).unwrap_or(usize::MAX);
    let svc = Otlp(st);
    tonic::service::Routes::new(ExportServer::new(Traces(svc.clone()), limit))
        .add_service(ExportServer::new(Logs(svc.clone()), limit))
        .add_service(ExportServer::new(Metrics(svc), limit))
}
