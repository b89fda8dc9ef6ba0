//! Talking to the API server: kubectl-style client configuration, bounded requests with retries,
//! paginated listing, and collection into a [`Snapshot`](crate::snapshot::Snapshot).

mod collect;
mod connect;
mod decode;
mod request;
mod write;

pub use collect::{CollectOptions, collect};
pub use connect::connect;
pub use request::{ApiError, Cluster};
pub use write::{Target, api_version, collection_path, metadata_only};
