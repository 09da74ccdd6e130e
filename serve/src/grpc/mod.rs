//! The Open Inference Protocol over gRPC (`inference.GRPCInferenceService`, from
//! `proto/open_inference_grpc.proto`) on tonic: the same models, checks, routing, request
//! log and metrics as the REST protocol, through the same functions.

mod convert;
mod service;

use crate::app::App;
use crate::error::ApiError;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tonic::{Code, Status};

/// The messages and the service trait generated from the proto by build.rs.
#[allow(clippy::all)]
mod proto {
    tonic::include_proto!("inference");
}

/// Serves gRPC on `listener` until `stop` resolves, then finishes the calls in flight;
/// a message is at most `max_message` bytes (`--max-body`).
pub async fn serve(listener: TcpListener, app: Arc<App>, max_message: usize, stop: impl Future<Output = ()>) {
    let service = proto::grpc_inference_service_server::GrpcInferenceServiceServer::new(service::Service { app })
        .max_decoding_message_size(max_message);
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    if let Err(e) =
        tonic::transport::Server::builder().add_service(service).serve_with_incoming_shutdown(incoming, stop).await
    {
        tracing::error!("the gRPC server stopped: {e}");
    }
}

/// An error as a gRPC status: bad input (4xx) is `InvalidArgument`, an unknown model or
/// version `NotFound`, a model not ready `Unavailable`, anything else `Internal`.
fn status(e: ApiError) -> Status {
    let code = match e.status.as_u16() {
        404 => Code::NotFound,
        503 => Code::Unavailable,
        400..=499 => Code::InvalidArgument,
        _ => Code::Internal,
    };
    Status::new(code, e.message)
}
