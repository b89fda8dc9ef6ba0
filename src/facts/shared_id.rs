//! Scale sets that share one GitHub registration (`runner-scale-set-id` + config URL), and which
//! side is stale (arc-domain §3 "Create reuses", `ARC-SCALESET-ID-SHARED`).

use std::collections::BTreeMap;

use crate::model;
use crate::snapshot::Object;

use super::Ctx;

/// The GitHub config URL at `pointer`, normalised (one trailing `/` stripped, lower case).
pub(crate) fn config_url(o: &Object, pointer: &str) -> String {
    o.str(pointer)
        .unwrap_or("")
        .trim()
        .trim_end_matches('/')
        .to_lowercase()
}

/// Is this ARS deleting or orphaned (nobody will keep it alive)? Returns why.
pub(crate) fn stale(ctx: &Ctx, ars: &Object) -> Option<String> {
    let ns = ars.meta.ns();
    if ars.meta.is_deleting() {
        return Some("being deleted".to_owned());
    }
    if ctx.snap.namespace_exists(ns) == Some(false) {
        return Some(format!("stranded in the deleted namespace {ns}"));
    }
    if ctx.snap.namespace_terminating(ns) {
        return Some(format!("in the Terminating namespace {ns}"));
    }
    if ctx.snap.deployments.scope.covers(None) && ctx.model.live_for(ns).next().is_none() {
        return Some("not covered by any live controller".to_owned());
    }
    None
}

/// Groups of two or more ARSs registered under the same scale-set ID and config URL.
pub(crate) fn shared_groups<'a>(ctx: &Ctx<'a>) -> Vec<(i64, String, Vec<&'a Object>)> {
    let mut groups: BTreeMap<(i64, String), Vec<&'a Object>> = BTreeMap::new();
    for ars in &ctx.snap.autoscaling_runner_sets {
        if let Some(id) = model::scale_set_id(ars) {
            let url = config_url(ars, "/spec/githubConfigUrl");
            groups.entry((id, url)).or_default().push(ars);
        }
    }
    groups
        .into_iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|((id, url), v)| (id, url, v))
        .collect()
}
