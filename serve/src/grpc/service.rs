//! The RPCs: each answers as its REST twin does (`oip.rs`), `ModelInfer` through the same
//! [`oip::answer`].

use super::convert::{request_json, response};
use super::proto::grpc_inference_service_server::GrpcInferenceService;
use super::proto::model_metadata_response::TensorMetadata;
use super::proto::*;
use super::status;
use crate::app::App;
use crate::model::datatype;
use crate::oip;
use mlpc_train::scorer::Port;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct Service {
    pub app: Arc<App>,
}

/// An empty version field is none asked for: the one serving.
fn asked(version: &str) -> Option<&str> {
    Some(version).filter(|v| !v.is_empty())
}

fn tensors(ports: &[Port]) -> Vec<TensorMetadata> {
    ports
        .iter()
        .map(|p| TensorMetadata { name: p.name.clone(), datatype: datatype(p.ty).into(), shape: p.shape.clone() })
        .collect()
}

#[tonic::async_trait]
impl GrpcInferenceService for Service {
    async fn server_live(&self, _: Request<ServerLiveRequest>) -> Result<Response<ServerLiveResponse>, Status> {
        Ok(Response::new(ServerLiveResponse { live: true }))
    }

    /// Ready when every served model has a version loaded and nothing it needs was refused.
    async fn server_ready(&self, _: Request<ServerReadyRequest>) -> Result<Response<ServerReadyResponse>, Status> {
        Ok(Response::new(ServerReadyResponse { ready: self.app.all_ready() }))
    }

    /// Not ready (no version loaded, a refused online table) is `ready: false`; an unknown
    /// model or version is `NotFound`.
    async fn model_ready(&self, r: Request<ModelReadyRequest>) -> Result<Response<ModelReadyResponse>, Status> {
        let r = r.into_inner();
        let served = self.app.served(&r.name).map_err(status)?;
        let ready = match served.version(asked(&r.version)) {
            Ok(_) => served.problem().is_none(),
            Err(e) if e.status.is_server_error() => false,
            Err(e) => return Err(status(e)),
        };
        Ok(Response::new(ModelReadyResponse { ready }))
    }

    async fn server_metadata(
        &self,
        _: Request<ServerMetadataRequest>,
    ) -> Result<Response<ServerMetadataResponse>, Status> {
        let version = env!("CARGO_PKG_VERSION").into();
        Ok(Response::new(ServerMetadataResponse { name: "mlpc".into(), version, extensions: Vec::new() }))
    }

    async fn model_metadata(
        &self,
        r: Request<ModelMetadataRequest>,
    ) -> Result<Response<ModelMetadataResponse>, Status> {
        let r = r.into_inner();
        let m = self.app.served(&r.name).and_then(|s| s.version(asked(&r.version))).map_err(status)?;
        Ok(Response::new(ModelMetadataResponse {
            name: m.name.clone(),
            versions: vec![m.version.to_string()],
            platform: oip::PLATFORM.into(),
            inputs: tensors(&m.inputs),
            outputs: tensors(&m.outputs),
            properties: Default::default(),
        }))
    }

    /// Raw outputs (`raw_output_contents`) when the inputs came raw, as Triton answers.
    async fn model_infer(&self, r: Request<ModelInferRequest>) -> Result<Response<ModelInferResponse>, Status> {
        let r = r.into_inner();
        let answered =
            oip::answer(&self.app, &r.model_name, asked(&r.model_version), request_json(&r)).await.map_err(status)?;
        Ok(Response::new(response(&r.model_name, &answered, !r.raw_input_contents.is_empty())))
    }
}
