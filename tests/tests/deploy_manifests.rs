//! Checks of the deployment files, with no service and no Docker: every YAML document in
//! `deploy/k8s/` and `deploy/compose.yaml` parses and holds what the system relies on
//! (probes on declared ports, non-root containers, resources, a worker grace period that
//! covers a batch, KEDA on the right queue, a kustomization listing every file), and every
//! environment variable they set is one the binaries read, so a typo fails CI instead of
//! being silently ignored in production.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// The repository root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_owned()
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every document of a YAML file, merge keys (`<<: *anchor`) applied, as JSON values.
fn yaml_documents(relative: &str) -> Vec<Value> {
    let text = read(relative);
    let mut docs = Vec::new();
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(&text).enumerate() {
        let mut value = serde_yaml_ng::Value::deserialize(doc)
            .unwrap_or_else(|e| panic!("{relative}: document {i} is not YAML: {e}"));
        value
            .apply_merge()
            .unwrap_or_else(|e| panic!("{relative}: document {i}: bad merge key: {e}"));
        if value.is_null() {
            continue; // an empty document, e.g. after a trailing `---`
        }
        docs.push(
            serde_json::to_value(&value)
                .unwrap_or_else(|e| panic!("{relative}: document {i}: {e}")),
        );
    }
    docs
}

fn yaml_document(relative: &str) -> Value {
    let mut docs = yaml_documents(relative);
    assert_eq!(docs.len(), 1, "{relative} should hold one document");
    docs.remove(0)
}

const K8S: &str = "deploy/k8s";
const KUSTOMIZATION: &str = "kustomization.yaml";

/// The YAML files of deploy/k8s/ other than the kustomization, by name.
fn k8s_files() -> BTreeSet<String> {
    std::fs::read_dir(root().join(K8S))
        .expect("deploy/k8s/ exists")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| (n.ends_with(".yaml") || n.ends_with(".yml")) && n != KUSTOMIZATION)
        .collect()
}

/// Every Kubernetes object of deploy/k8s/, with its file.
fn k8s_objects() -> Vec<(String, Value)> {
    let mut objects = Vec::new();
    for file in k8s_files() {
        for doc in yaml_documents(&format!("{K8S}/{file}")) {
            objects.push((file.clone(), doc));
        }
    }
    assert!(!objects.is_empty(), "deploy/k8s/ holds no manifest");
    objects
}

fn of_kind(objects: &[(String, Value)], kind: &str) -> Vec<Value> {
    objects
        .iter()
        .filter(|(_, o)| o["kind"] == kind)
        .map(|(_, o)| o.clone())
        .collect()
}

fn name(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or("<unnamed>")
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The keys of a YAML mapping (an environment, a ConfigMap's data...).
fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The `.rs` files of a directory, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Standard variables read by libraries rather than by our code: the tracing filter and the
/// OpenTelemetry SDK's (the specification's names).
const LIBRARY_VARIABLES: &[&str] = &[
    "RUST_LOG",
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_METRIC_EXPORT_INTERVAL",
    "OTEL_METRIC_EXPORT_TIMEOUT",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BSP_EXPORT_TIMEOUT",
];

/// The environment variables the binaries read: every upper-case string literal that the
/// source of common/, storage/, runtime/, api/, worker/ and cli/ names next to `env` on the
/// same line (`env_or("X"`, `env_at_least("X"`, `std::env::var("X")`, clap's `env = "X"`),
/// or at the start of the line after one, or as the argument of a closure forwarding to
/// one (`whole("X"`), plus [`LIBRARY_VARIABLES`]. Read at test time, so a new setting needs
/// no list kept here.
fn variables_read() -> BTreeSet<String> {
    let mut files = Vec::new();
    for dir in [
        "common/src",
        "storage/src",
        "runtime/src",
        "api/src",
        "worker/src",
        "cli/src",
    ] {
        rust_files(&root().join(dir), &mut files);
    }
    let mut names: BTreeSet<String> = LIBRARY_VARIABLES.iter().map(|s| s.to_string()).collect();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Closures that forward to a reader of the environment, e.g. config.rs's
        // `let whole = |name, default: u64, min| env_at_least(name, default, min);`: their
        // calls name variables too.
        let forwarders: Vec<String> = text
            .lines()
            .filter_map(|l| {
                let rest = l.trim().strip_prefix("let ")?;
                let (name, value) = rest.split_once(" = |")?;
                let is_ident = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                (is_ident && value.contains("env")).then(|| format!("{name}("))
            })
            .collect();
        let mut previous = "";
        for line in text.lines() {
            let mut rest = line;
            while let Some(open) = rest.find('"') {
                let before = &rest[..open];
                let after = &rest[open + 1..];
                let Some(close) = after.find('"') else { break };
                let literal = &after[..close];
                let is_name = !literal.is_empty()
                    && literal.starts_with(|c: char| c.is_ascii_uppercase())
                    && literal
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                // A literal that starts its line is an argument of the call the line above
                // opens (`whole(` then `"NAME",` below it, as rustfmt cuts a long call).
                let before = match before.trim().is_empty() {
                    true => previous.trim_end(),
                    false => before,
                };
                let tail: String = before.chars().rev().take(40).collect();
                let forwarded = forwarders.iter().any(|f| before.ends_with(f.as_str()));
                if is_name && (tail.to_ascii_lowercase().contains("vne") || forwarded) {
                    names.insert(literal.to_owned());
                }
                rest = &after[close + 1..];
            }
            previous = line;
        }
    }
    for expected in [
        "DATABASE_URL",
        "AMQP_URL",
        "IMPORTS_QUEUE",
        "IMPORTS_LEASE_SECONDS",
        "API_SIGNING_SECRET",
        "MIGRATE_WAIT_SECONDS",
        "LOG_FORMAT",
        "WEBHOOKS_CONCURRENCY",
        "WEBHOOKS_ALLOW_PRIVATE_NETWORKS",
    ] {
        assert!(
            names.contains(expected),
            "the scan of the sources no longer finds {expected}: fix variables_read()"
        );
    }
    names
}

/// `const DEFAULT_QUEUE: &str = "..."` of runtime/src/config.rs.
fn default_queue() -> String {
    let config = read("runtime/src/config.rs");
    let line = config
        .lines()
        .find(|l| l.contains("const DEFAULT_QUEUE"))
        .expect("config.rs defines DEFAULT_QUEUE");
    line.split('"').nth(1).expect("a string literal").to_owned()
}

/// The default lease, from `env_at_least("IMPORTS_LEASE_SECONDS", <default>, ...)`.
fn default_lease_seconds() -> u64 {
    let config = read("runtime/src/config.rs");
    let at = config
        .find("\"IMPORTS_LEASE_SECONDS\",")
        .expect("config.rs reads IMPORTS_LEASE_SECONDS");
    let rest = &config[at + "\"IMPORTS_LEASE_SECONDS\",".len()..];
    rest.split(',')
        .next()
        .unwrap()
        .trim()
        .parse()
        .expect("a number")
}

/// The `[[bin]]` names of a Cargo.toml.
fn binaries(manifest: &str) -> Vec<String> {
    let text = read(manifest);
    let mut bins = Vec::new();
    let mut in_bin = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && line.starts_with("name") {
            bins.push(line.split('"').nth(1).unwrap().to_owned());
        }
    }
    bins
}

fn service_binaries() -> BTreeSet<String> {
    let mut bins = BTreeSet::new();
    bins.extend(binaries("api/Cargo.toml"));
    bins.extend(binaries("worker/Cargo.toml"));
    assert!(bins.contains("imports-api") && bins.contains("imports-worker"));
    bins
}

/// A Kubernetes memory quantity in bytes.
fn bytes(q: &str) -> f64 {
    let units = [
        ("Ki", 1024f64),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
    ];
    for (unit, factor) in units {
        if let Some(n) = q.strip_suffix(unit) {
            return n.parse::<f64>().unwrap() * factor;
        }
    }
    q.parse()
        .unwrap_or_else(|_| panic!("unsupported memory quantity {q}"))
}

/// A Kubernetes CPU quantity in millicores.
fn millicores(q: &str) -> f64 {
    match q.strip_suffix('m') {
        Some(n) => n.parse().unwrap(),
        None => q.parse::<f64>().unwrap() * 1000.0,
    }
}

/// A quantity given as a string or a number, as a string.
fn quantity(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The pod template spec of a Deployment or a Job.
fn pod_spec(workload: &Value) -> &Value {
    workload
        .pointer("/spec/template/spec")
        .unwrap_or_else(|| panic!("{} has no pod template", name(workload)))
}

fn containers(workload: &Value) -> Vec<Value> {
    let c = pod_spec(workload)["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!c.is_empty(), "{} has no container", name(workload));
    c
}

/// What a container runs: its `command` then its `args`.
fn invocation(container: &Value) -> Vec<String> {
    let mut words = strings(&container["command"]);
    words.extend(strings(&container["args"]));
    words
}

/// The API's Deployment.
const API: &[&str] = &["imports-api", "serve"];
/// The worker's Deployment (imports and webhooks).
const WORKER: &[&str] = &["imports-worker", "run"];
/// The Deployment that only delivers webhooks.
const DELIVER: &[&str] = &["imports-worker", "deliver"];

/// The Deployment whose container runs `run` (a binary and its subcommand: the worker and
/// the deliverer are one binary).
fn deployment_running<'a>(deployments: &'a [Value], run: &[&str]) -> &'a Value {
    deployments
        .iter()
        .find(|d| containers(d).iter().any(|c| invocation(c) == run))
        .unwrap_or_else(|| panic!("no Deployment runs {}", run.join(" ")))
}

/// The uid of the Dockerfile's `USER`.
fn dockerfile_uid() -> u64 {
    let dockerfile = read("deploy/Dockerfile");
    let user = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("USER "))
        .next_back()
        .expect("the Dockerfile sets USER");
    user.trim()
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("USER is a numeric uid, so Kubernetes can check runAsNonRoot")
}

/// The ports of the Dockerfile's `EXPOSE` lines.
fn dockerfile_exposed() -> BTreeSet<u64> {
    read("deploy/Dockerfile")
        .lines()
        .filter_map(|l| l.strip_prefix("EXPOSE "))
        .flat_map(|l| {
            l.split_whitespace()
                .map(|p| p.trim_end_matches("/tcp").parse().unwrap())
        })
        .collect()
}

/// The names the Dockerfile's `ENV` instructions set (`ENV A=1 \\` continued on later lines).
fn dockerfile_env() -> Vec<String> {
    let dockerfile = read("deploy/Dockerfile");
    let mut instructions: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines().map(str::trim) {
        if line.starts_with('#') && current.is_empty() {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                instructions.push(std::mem::take(&mut current));
            }
        }
    }
    instructions
        .iter()
        .filter_map(|i| i.strip_prefix("ENV "))
        .flat_map(|i| i.split_whitespace())
        .filter_map(|pair| pair.split_once('=').map(|(k, _)| k.to_owned()))
        .collect()
}

#[test]
fn every_manifest_has_api_version_kind_and_name_and_no_namespace() {
    for (file, object) in k8s_objects() {
        assert!(
            object["apiVersion"].is_string(),
            "{file}: a document has no apiVersion"
        );
        assert!(object["kind"].is_string(), "{file}: a document has no kind");
        let name = str_at(&object, "/metadata/name").unwrap_or_default();
        assert!(
            !name.is_empty(),
            "{file}: a {} has no metadata.name",
            object["kind"]
        );
        assert!(
            object.pointer("/metadata/namespace").is_none(),
            "{file}: {name} sets a namespace; the manifests are namespace-agnostic"
        );
    }
}

#[test]
fn the_kustomization_lists_every_file_of_the_folder() {
    let kustomization = yaml_document(&format!("{K8S}/{KUSTOMIZATION}"));
    assert_eq!(kustomization["kind"], "Kustomization");
    let listed: Vec<String> = strings(&kustomization["resources"]);
    let unique: BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(unique.len(), listed.len(), "a resource is listed twice");
    assert_eq!(
        unique,
        k8s_files(),
        "kustomization.yaml must list exactly the manifests of deploy/k8s/"
    );
}

#[test]
fn every_workload_is_non_root_read_only_and_capability_free() {
    let objects = k8s_objects();
    let uid = dockerfile_uid();
    let mut workloads = of_kind(&objects, "Deployment");
    workloads.extend(of_kind(&objects, "Job"));
    assert!(
        workloads.len() >= 3,
        "expected the api and worker Deployments and the migrate Job"
    );
    for workload in &workloads {
        let w = name(workload);
        let pod = pod_spec(workload);
        let pod_non_root = pod.pointer("/securityContext/runAsNonRoot") == Some(&Value::Bool(true));
        if let Some(run_as) = pod.pointer("/securityContext/runAsUser") {
            assert_eq!(
                run_as.as_u64(),
                Some(uid),
                "{w}: runAsUser is not the image's USER"
            );
        }
        for c in containers(workload) {
            let cn = c["name"].as_str().unwrap_or("?");
            let sc = &c["securityContext"];
            let non_root = sc["runAsNonRoot"] == Value::Bool(true);
            assert!(
                pod_non_root || non_root,
                "{w}/{cn}: runAsNonRoot is not set"
            );
            assert_eq!(
                sc["readOnlyRootFilesystem"], true,
                "{w}/{cn}: root filesystem writable"
            );
            assert_eq!(
                sc["allowPrivilegeEscalation"], false,
                "{w}/{cn}: privilege escalation"
            );
            assert!(
                strings(&sc["capabilities"]["drop"]).contains(&"ALL".to_owned()),
                "{w}/{cn}: capabilities are not all dropped"
            );
            if let Some(run_as) = sc.get("runAsUser") {
                assert_eq!(
                    run_as.as_u64(),
                    Some(uid),
                    "{w}/{cn}: runAsUser is not the image's USER"
                );
            }
            for kind in ["requests", "limits"] {
                for resource in ["cpu", "memory"] {
                    assert!(
                        quantity(&c["resources"][kind][resource]).is_some(),
                        "{w}/{cn}: resources.{kind}.{resource} is missing"
                    );
                }
            }
            let q = |kind: &str, resource: &str| quantity(&c["resources"][kind][resource]).unwrap();
            assert!(
                bytes(&q("requests", "memory")) <= bytes(&q("limits", "memory")),
                "{w}/{cn}"
            );
            assert!(
                millicores(&q("requests", "cpu")) <= millicores(&q("limits", "cpu")),
                "{w}/{cn}"
            );
        }
    }
}

#[test]
fn deployments_probe_declared_ports_and_leave_memory_headroom() {
    let objects = k8s_objects();
    let deployments = of_kind(&objects, "Deployment");
    let exposed = dockerfile_exposed();
    let bins = service_binaries();
    for d in &deployments {
        let dn = name(d);
        for c in containers(d) {
            let cn = c["name"].as_str().unwrap_or("?");
            let command = strings(&c["command"]);
            assert!(
                command.first().is_some_and(|b| bins.contains(b)),
                "{dn}/{cn}: command {command:?} does not run a binary of the image"
            );
            let ports: Vec<&Value> = c["ports"]
                .as_array()
                .map(|p| p.iter().collect())
                .unwrap_or_default();
            assert!(!ports.is_empty(), "{dn}/{cn}: declares no port");
            for p in &ports {
                let number = p["containerPort"].as_u64().unwrap();
                assert!(
                    exposed.contains(&number),
                    "{dn}/{cn}: port {number} is not EXPOSEd by the Dockerfile"
                );
            }
            for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/livez")] {
                let get = &c[probe]["httpGet"];
                assert_eq!(get["path"], path, "{dn}/{cn}: {probe} should GET {path}");
                let port = &get["port"];
                let declared = ports.iter().any(|p| match port {
                    Value::String(n) => p["name"] == n.as_str(),
                    Value::Number(n) => p["containerPort"].as_u64() == n.as_u64(),
                    _ => false,
                });
                assert!(
                    declared,
                    "{dn}/{cn}: {probe} port {port} is not a declared container port"
                );
            }
        }
    }
    // Measured peak RSS (docs/performance.md): worker ~40 MiB, API ~70 MiB; at least twice.
    let mib = 1024f64 * 1024.0;
    for (run, peak) in [(WORKER, 40.0), (API, 70.0)] {
        let d = deployment_running(&deployments, run);
        for c in containers(d) {
            let limit = bytes(&quantity(&c["resources"]["limits"]["memory"]).unwrap());
            assert!(
                limit >= 2.0 * peak * mib,
                "{}: memory limit under twice the peak",
                name(d)
            );
        }
    }
    let api = deployment_running(&deployments, API);
    assert!(
        api["spec"]["replicas"].as_u64().unwrap_or(1) >= 2,
        "the API should run 2 replicas"
    );
    let worker = deployment_running(&deployments, WORKER);
    assert!(
        worker["spec"].get("replicas").is_none(),
        "KEDA owns the worker's replica count: the Deployment must not set it"
    );
}

/// IMPORTS_LEASE_SECONDS as the ConfigMap sets it, or the binaries' default.
fn configured_lease(objects: &[(String, Value)]) -> u64 {
    of_kind(objects, "ConfigMap")
        .iter()
        .find_map(|cm| str_at(cm, "/data/IMPORTS_LEASE_SECONDS").map(|s| s.parse().unwrap()))
        .unwrap_or_else(default_lease_seconds)
}

#[test]
fn the_worker_grace_period_covers_twice_the_worst_batch() {
    // A batch that runs past the lease loses its import (its commit is fenced on the lease),
    // so the lease bounds the worst batch a SIGTERMed worker waits for.
    let objects = k8s_objects();
    let lease = configured_lease(&objects);
    let deployments = of_kind(&objects, "Deployment");
    let worker = deployment_running(&deployments, WORKER);
    let grace = pod_spec(worker)["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("the worker sets terminationGracePeriodSeconds");
    assert!(
        grace >= 2 * lease,
        "worker grace {grace}s < 2 x lease {lease}s"
    );

    let compose = compose();
    let w = &compose["services"]["worker"];
    let lease = w["environment"]["IMPORTS_LEASE_SECONDS"]
        .as_str()
        .map(|s| s.parse().unwrap())
        .unwrap_or_else(default_lease_seconds);
    let stop = w["stop_grace_period"]
        .as_str()
        .expect("compose's worker sets stop_grace_period");
    let seconds: u64 = match stop.strip_suffix('m') {
        Some(m) => m.parse::<u64>().unwrap() * 60,
        None => stop.trim_end_matches('s').parse().unwrap(),
    };
    assert!(
        seconds >= 2 * lease,
        "compose worker stop_grace_period {stop} < 2 x lease {lease}s"
    );
}

#[test]
fn keda_scales_the_worker_deployment_on_the_default_queue() {
    let objects = k8s_objects();
    let deployments = of_kind(&objects, "Deployment");
    let worker = name(deployment_running(&deployments, WORKER)).to_owned();
    let queue = default_queue();
    for cm in of_kind(&objects, "ConfigMap") {
        if let Some(q) = str_at(&cm, "/data/IMPORTS_QUEUE") {
            assert_eq!(
                q, queue,
                "the ConfigMap's IMPORTS_QUEUE is not the default queue"
            );
        }
    }
    let scaled = of_kind(&objects, "ScaledObject");
    assert_eq!(scaled.len(), 1, "one ScaledObject, for the worker");
    let so = &scaled[0];
    assert_eq!(
        str_at(so, "/spec/scaleTargetRef/name"),
        Some(worker.as_str())
    );
    if let Some(kind) = str_at(so, "/spec/scaleTargetRef/kind") {
        assert_eq!(kind, "Deployment");
    }
    let min = so["spec"]["minReplicaCount"]
        .as_u64()
        .expect("minReplicaCount");
    let max = so["spec"]["maxReplicaCount"]
        .as_u64()
        .expect("maxReplicaCount");
    assert!(min >= 1 && max >= min, "replicas {min}..{max}");

    let triggers = so["spec"]["triggers"].as_array().expect("triggers");
    let rabbit = triggers
        .iter()
        .find(|t| t["type"] == "rabbitmq")
        .expect("a rabbitmq trigger");
    assert_eq!(str_at(rabbit, "/metadata/queueName"), Some(queue.as_str()));
    let value = str_at(rabbit, "/metadata/value").expect("a target value, as a string");
    assert!(
        value.parse::<u64>().is_ok_and(|v| v >= 1),
        "target value {value}"
    );

    // Its credentials: a TriggerAuthentication reading an existing key of the Secret.
    let auth_name = str_at(rabbit, "/authenticationRef/name").expect("an authenticationRef");
    let auth = of_kind(&objects, "TriggerAuthentication")
        .into_iter()
        .find(|a| name(a) == auth_name)
        .unwrap_or_else(|| panic!("no TriggerAuthentication {auth_name}"));
    let secrets = of_kind(&objects, "Secret");
    let refs = auth["spec"]["secretTargetRef"]
        .as_array()
        .expect("secretTargetRef");
    for r in refs {
        let secret = secrets
            .iter()
            .find(|s| Some(name(s)) == r["name"].as_str())
            .unwrap_or_else(|| {
                panic!(
                    "the TriggerAuthentication reads an unknown Secret {}",
                    r["name"]
                )
            });
        let key = r["key"].as_str().unwrap();
        assert!(
            secret_keys(secret).contains(key),
            "the Secret has no key {key}"
        );
    }
    assert!(
        refs.iter()
            .any(|r| r["parameter"] == "host" && r["key"] == "AMQP_URL"),
        "KEDA's RabbitMQ host should be the workers' own AMQP_URL"
    );
}

/// Where a container's variable `var` comes from, as Kubernetes resolves it: its last `env`
/// entry of that name (a value, or a key of a ConfigMap or Secret, which must hold it), else
/// the last `envFrom` source that holds the key; `None` when nothing sets it. Both forms of
/// one key read alike: `ConfigMap <name> key <key>`.
fn env_source(objects: &[(String, Value)], container: &Value, var: &str) -> Option<String> {
    let holds = |kind: &str, object: &str, key: &str| {
        of_kind(objects, kind).iter().any(|o| {
            name(o) == object
                && match kind {
                    "Secret" => secret_keys(o).contains(key),
                    _ => o["data"].get(key).is_some(),
                }
        })
    };
    let entry = container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .rfind(|e| e["name"] == var);
    if let Some(e) = entry {
        if let Some(v) = e.get("value") {
            return Some(format!("value {v}"));
        }
        for (reference, kind) in [("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")] {
            if let Some(r) = e["valueFrom"].get(reference) {
                let (object, key) = (r["name"].as_str().unwrap(), r["key"].as_str().unwrap());
                assert!(
                    holds(kind, object, key),
                    "{var} reads {kind} {object} key {key}, which does not exist: the pod would not start"
                );
                return Some(format!("{kind} {object} key {key}"));
            }
        }
        return Some(format!("valueFrom {}", e["valueFrom"]));
    }
    for from in container["envFrom"].as_array().into_iter().flatten().rev() {
        let Some(key) = var.strip_prefix(from["prefix"].as_str().unwrap_or_default()) else {
            continue;
        };
        for (reference, kind) in [("configMapRef", "ConfigMap"), ("secretRef", "Secret")] {
            if let Some(object) = str_at(from, &format!("/{reference}/name")) {
                if holds(kind, object, key) {
                    return Some(format!("{kind} {object} key {key}"));
                }
            }
        }
    }
    None
}

#[test]
fn the_deliver_deployment_delivers_with_the_worker_s_settings() {
    let objects = k8s_objects();
    let deployments = of_kind(&objects, "Deployment");
    let api = deployment_running(&deployments, API);
    let worker = deployment_running(&deployments, WORKER);
    let deliver = deployment_running(&deployments, DELIVER);
    let first = |d: &Value| containers(d).remove(0);
    let (api_c, worker_c, deliver_c) = (first(api), first(worker), first(deliver));
    assert_eq!(invocation(&deliver_c), DELIVER, "{}", name(deliver));
    assert_eq!(deliver_c["image"], worker_c["image"], "one image for both");

    // Its pods are its own: the worker's Deployment, budget and KEDA never count them.
    let labels = |d: &Value| d["spec"]["template"]["metadata"]["labels"].clone();
    let selects = |selector: &Value, labels: &Value| {
        selector
            .as_object()
            .is_some_and(|m| !m.is_empty() && m.iter().all(|(k, v)| &labels[k] == v))
    };
    let own = &deliver["spec"]["selector"]["matchLabels"];
    assert!(selects(own, &labels(deliver)));
    assert!(
        !selects(own, &labels(worker)),
        "it would adopt the worker's pods"
    );
    assert!(
        !selects(&worker["spec"]["selector"]["matchLabels"], &labels(deliver)),
        "the worker's Deployment would adopt its pods"
    );
    assert_eq!(deliver["spec"]["replicas"], 2, "a fixed count of 2");
    for so in of_kind(&objects, "ScaledObject") {
        assert_ne!(
            str_at(&so, "/spec/scaleTargetRef/name"),
            Some(name(deliver))
        );
    }

    // The worker's connections and queue (the deliveries' queue is named after it), from the
    // same sources.
    for var in ["DATABASE_URL", "AMQP_URL", "IMPORTS_QUEUE"] {
        let from_worker = env_source(&objects, &worker_c, var);
        assert!(from_worker.is_some(), "the worker gets no {var}");
        assert_eq!(
            env_source(&objects, &deliver_c, var),
            from_worker,
            "{} gets {var} from elsewhere than the worker",
            name(deliver)
        );
    }
    // Payloads carry the API's links and attachment URLs signed with the API's key.
    for var in ["API_PUBLIC_URL", "API_SIGNING_SECRET"] {
        let from_api = env_source(&objects, &api_c, var);
        assert!(from_api.is_some(), "the API gets no {var}");
        for (d, c) in [(worker, &worker_c), (deliver, &deliver_c)] {
            assert_eq!(
                env_source(&objects, c, var),
                from_api,
                "{} gets {var} from elsewhere than the API",
                name(d)
            );
        }
    }
    // Every WEBHOOKS_* setting is in the ConfigMap, and both delivering Deployments read it
    // there; the API checks callback URLs with the workers' WEBHOOKS_ALLOW_PRIVATE_NETWORKS.
    let webhooks: Vec<String> = variables_read()
        .into_iter()
        .filter(|v| v.starts_with("WEBHOOKS_"))
        .collect();
    assert!(webhooks.len() >= 9, "{webhooks:?}");
    for var in &webhooks {
        let from_worker = env_source(&objects, &worker_c, var);
        assert!(
            from_worker
                .as_deref()
                .is_some_and(|s| s.starts_with("ConfigMap ")),
            "{var} is not in the ConfigMap the worker reads: {from_worker:?}"
        );
        assert_eq!(env_source(&objects, &deliver_c, var), from_worker, "{var}");
    }
    assert_eq!(
        env_source(&objects, &api_c, "WEBHOOKS_ALLOW_PRIVATE_NETWORKS"),
        env_source(&objects, &worker_c, "WEBHOOKS_ALLOW_PRIVATE_NETWORKS")
    );
    // SIGTERM lets the calls in flight finish, each within WEBHOOKS_TIMEOUT_SECONDS.
    let timeout: u64 = of_kind(&objects, "ConfigMap")
        .iter()
        .find_map(|cm| str_at(cm, "/data/WEBHOOKS_TIMEOUT_SECONDS").map(|s| s.parse().unwrap()))
        .unwrap_or(5);
    let grace = pod_spec(deliver)["terminationGracePeriodSeconds"]
        .as_u64()
        .unwrap_or(30);
    assert!(
        grace >= 2 * timeout,
        "grace {grace}s < 2 x timeout {timeout}s"
    );

    // Compose likewise: the deliver service runs `imports-worker deliver` with the worker's
    // connections and the API's URL and key.
    let compose = compose();
    let services = &compose["services"];
    assert_eq!(strings(&services["deliver"]["command"]), DELIVER);
    let env = |s: &str, k: &str| services[s]["environment"].get(k).cloned();
    for var in ["DATABASE_URL", "AMQP_URL", "IMPORTS_QUEUE"] {
        assert!(
            env("worker", var).is_some(),
            "compose's worker has no {var}"
        );
        assert_eq!(env("deliver", var), env("worker", var), "compose {var}");
    }
    for var in ["API_PUBLIC_URL", "API_SIGNING_SECRET"] {
        assert!(env("api", var).is_some(), "compose's api has no {var}");
        for s in ["worker", "deliver"] {
            assert_eq!(env(s, var), env("api", var), "compose {s}: {var}");
        }
    }
    assert_eq!(
        services["deliver"]["healthcheck"]["test"], services["worker"]["healthcheck"]["test"],
        "compose's deliver should probe /readyz on WORKER_HTTP_ADDR like the worker"
    );
}

fn secret_keys(secret: &Value) -> BTreeSet<String> {
    keys(&secret["stringData"])
        .into_iter()
        .chain(keys(&secret["data"]))
        .collect()
}

#[test]
fn services_and_budgets_select_existing_pods() {
    let objects = k8s_objects();
    let deployments = of_kind(&objects, "Deployment");
    let selects = |selector: &Value, d: &Value| {
        let labels = &d["spec"]["template"]["metadata"]["labels"];
        selector
            .as_object()
            .is_some_and(|m| !m.is_empty() && m.iter().all(|(k, v)| &labels[k] == v))
    };
    for svc in of_kind(&objects, "Service") {
        let d = deployments
            .iter()
            .find(|d| selects(&svc["spec"]["selector"], d))
            .unwrap_or_else(|| panic!("Service {} selects no Deployment's pods", name(&svc)));
        for port in svc["spec"]["ports"].as_array().unwrap() {
            let target = &port["targetPort"];
            let declared = containers(d).iter().any(|c| {
                c["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| match target {
                        Value::String(n) => p["name"] == n.as_str(),
                        Value::Number(n) => p["containerPort"].as_u64() == n.as_u64(),
                        _ => false,
                    })
            });
            assert!(
                declared,
                "Service {}: targetPort {target} is not declared",
                name(&svc)
            );
        }
    }
    let pdbs = of_kind(&objects, "PodDisruptionBudget");
    for run in [API, WORKER] {
        let d = deployment_running(&deployments, run);
        assert!(
            pdbs.iter()
                .any(|p| selects(&p["spec"]["selector"]["matchLabels"], d)),
            "no PodDisruptionBudget covers {}",
            name(d)
        );
    }
}

/// The compose file, merge keys applied.
fn compose() -> Value {
    yaml_document("deploy/compose.yaml")
}

/// The services of compose.yaml built from our image.
const COMPOSE_OURS: [&str; 4] = ["migrate", "api", "worker", "deliver"];

#[test]
fn every_variable_set_is_one_the_binaries_read() {
    let known = variables_read();
    let mut set: Vec<(String, String)> = Vec::new(); // (where, variable)
    let objects = k8s_objects();
    for cm in of_kind(&objects, "ConfigMap") {
        for (k, v) in cm["data"].as_object().into_iter().flatten() {
            assert!(
                v.is_string(),
                "ConfigMap {}: {k} must be a quoted string",
                name(&cm)
            );
            set.push((format!("ConfigMap {}", name(&cm)), k.clone()));
        }
    }
    for secret in of_kind(&objects, "Secret") {
        for k in secret_keys(&secret) {
            set.push((format!("Secret {}", name(&secret)), k));
        }
    }
    let config_maps: BTreeSet<String> = of_kind(&objects, "ConfigMap")
        .iter()
        .map(|c| name(c).to_owned())
        .collect();
    let secrets: BTreeSet<String> = of_kind(&objects, "Secret")
        .iter()
        .map(|s| name(s).to_owned())
        .collect();
    let mut workloads = of_kind(&objects, "Deployment");
    workloads.extend(of_kind(&objects, "Job"));
    for w in &workloads {
        for c in containers(w) {
            for e in c["env"].as_array().into_iter().flatten() {
                set.push((
                    format!("{} env", name(w)),
                    e["name"].as_str().unwrap().to_owned(),
                ));
            }
            for from in c["envFrom"].as_array().into_iter().flatten() {
                if let Some(cm) = str_at(from, "/configMapRef/name") {
                    assert!(
                        config_maps.contains(cm),
                        "{}: unknown ConfigMap {cm}",
                        name(w)
                    );
                }
                if let Some(s) = str_at(from, "/secretRef/name") {
                    assert!(secrets.contains(s), "{}: unknown Secret {s}", name(w));
                }
            }
        }
    }
    let compose = compose();
    for service in COMPOSE_OURS {
        for k in keys(&compose["services"][service]["environment"]) {
            set.push((format!("compose {service}"), k));
        }
    }
    for name in dockerfile_env() {
        set.push(("Dockerfile ENV".into(), name));
    }
    assert!(set.len() > 20, "found too few settings to check: {set:?}");
    let unknown: Vec<String> = set
        .iter()
        .filter(|(_, v)| !known.contains(v))
        .map(|(w, v)| format!("{w}: {v}"))
        .collect();
    assert!(
        unknown.is_empty(),
        "variables no binary reads (a typo?): {unknown:?}\nread: {known:?}"
    );

    // Secrets live in the Secret, never in the ConfigMap.
    for cm in of_kind(&objects, "ConfigMap") {
        for secret in ["DATABASE_URL", "AMQP_URL", "API_SIGNING_SECRET"] {
            assert!(
                cm["data"].get(secret).is_none(),
                "{secret} belongs in the Secret"
            );
        }
    }
    let secret_names: BTreeSet<String> = of_kind(&objects, "Secret")
        .iter()
        .flat_map(secret_keys)
        .collect();
    for secret in ["DATABASE_URL", "AMQP_URL", "API_SIGNING_SECRET"] {
        assert!(secret_names.contains(secret), "the Secret lacks {secret}");
    }
}

/// `scheme://user:password@host:port/...` -> (user, password, host, port, path).
fn url_parts(url: &str) -> (String, String, String, String, String) {
    let rest = url.split_once("://").expect("a URL").1;
    let (creds, rest) = rest.split_once('@').expect("credentials in the URL");
    let (user, password) = creds.split_once(':').unwrap_or((creds, ""));
    let (hostport, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, ""));
    (
        user.into(),
        password.into(),
        host.into(),
        port.into(),
        path.into(),
    )
}

#[test]
fn compose_runs_one_image_with_consistent_commands_and_services() {
    let compose = compose();
    let services = compose["services"].as_object().expect("services");
    for needed in [
        "postgres",
        "rabbitmq",
        "otel-collector",
        "jaeger",
        "migrate",
        "api",
        "worker",
        "deliver",
    ] {
        assert!(
            services.contains_key(needed),
            "compose lacks the {needed} service"
        );
    }
    for infra in ["postgres", "rabbitmq"] {
        assert!(
            services[infra]["healthcheck"]["test"].is_array(),
            "{infra} has no healthcheck"
        );
    }
    assert!(str_at(&services["postgres"], "/image")
        .unwrap()
        .starts_with("postgres:15"));
    assert!(str_at(&services["rabbitmq"], "/image")
        .unwrap()
        .contains("management"));

    // One image, built once from deploy/Dockerfile, for the three services of ours.
    let image = &services["api"]["image"];
    let build = &services["api"]["build"];
    assert_eq!(build["dockerfile"], "deploy/Dockerfile");
    for s in COMPOSE_OURS {
        assert_eq!(&services[s]["image"], image, "{s} runs another image");
        assert_eq!(&services[s]["build"], build, "{s} builds differently");
    }
    let bins = service_binaries();
    let expected = [
        ("migrate", ["imports-api", "migrate"]),
        ("api", ["imports-api", "serve"]),
        ("worker", ["imports-worker", "run"]),
        ("deliver", ["imports-worker", "deliver"]),
    ];
    for (s, command) in expected {
        assert_eq!(strings(&services[s]["command"]), command, "{s}'s command");
        assert!(bins.contains(command[0]));
    }
    for s in ["api", "worker", "deliver"] {
        assert_eq!(
            str_at(&services[s], "/depends_on/migrate/condition"),
            Some("service_completed_successfully"),
            "{s} must wait for the migrations"
        );
        assert_eq!(
            str_at(&services[s], "/depends_on/rabbitmq/condition"),
            Some("service_healthy")
        );
    }
    assert_eq!(
        str_at(&services["migrate"], "/depends_on/postgres/condition"),
        Some("service_healthy")
    );
    assert_eq!(services["worker"]["deploy"]["replicas"], 3);
    assert_eq!(services["migrate"]["restart"], "no");

    // Every connection names a compose service with the credentials it was given.
    let env =
        |s: &str, k: &str| str_at(&services[s], &format!("/environment/{k}")).map(str::to_owned);
    for s in COMPOSE_OURS {
        assert_eq!(
            env(s, "IMPORTS_QUEUE")
                .as_deref()
                .unwrap_or(&default_queue()),
            default_queue()
        );
        let (user, password, host, _, db) = url_parts(&env(s, "DATABASE_URL").unwrap());
        assert_eq!(host, "postgres");
        assert_eq!(Some(user), env("postgres", "POSTGRES_USER"));
        assert_eq!(Some(password), env("postgres", "POSTGRES_PASSWORD"));
        assert_eq!(Some(db), env("postgres", "POSTGRES_DB"));
        let (user, password, host, _, _) = url_parts(&env(s, "AMQP_URL").unwrap());
        assert_eq!(host, "rabbitmq");
        assert_eq!(Some(user), env("rabbitmq", "RABBITMQ_DEFAULT_USER"));
        assert_eq!(Some(password), env("rabbitmq", "RABBITMQ_DEFAULT_PASS"));
    }

    // The API listens on every interface, on the port compose publishes.
    let addr = env("api", "API_ADDR").expect("API_ADDR");
    assert!(
        addr.starts_with("0.0.0.0:"),
        "API_ADDR {addr} is unreachable from outside the container"
    );
    let port = addr.rsplit(':').next().unwrap();
    assert!(
        strings(&services["api"]["ports"])
            .iter()
            .any(|p| p.ends_with(&format!(":{port}"))),
        "compose does not publish the API's port {port}"
    );
    assert!(strings(&services["jaeger"]["ports"])
        .iter()
        .any(|p| p.starts_with("16686:")));
}

#[test]
fn compose_traces_reach_jaeger_through_the_collector() {
    let compose = compose();
    let services = &compose["services"];
    // The collector runs the committed config.
    let volumes = strings(&services["otel-collector"]["volumes"]);
    let mount = volumes
        .iter()
        .find(|v| v.starts_with("./otel-collector.yaml:"))
        .expect("the collector mounts deploy/otel-collector.yaml");
    let target = mount.split(':').nth(1).unwrap();
    assert!(
        strings(&services["otel-collector"]["command"])
            .iter()
            .any(|a| a.ends_with(target)),
        "the collector is not started with the mounted config {target}"
    );
    let collector = yaml_document("deploy/otel-collector.yaml");
    let listening: BTreeSet<String> = ["grpc", "http"]
        .iter()
        .filter_map(|p| {
            str_at(
                &collector,
                &format!("/receivers/otlp/protocols/{p}/endpoint"),
            )
        })
        .map(|e| e.rsplit(':').next().unwrap().to_owned())
        .collect();

    // Our services export to a port the collector listens on.
    for s in COMPOSE_OURS {
        let endpoint = str_at(&services[s], "/environment/OTEL_EXPORTER_OTLP_ENDPOINT")
            .unwrap_or_else(|| panic!("{s} exports no telemetry"));
        let hostport = endpoint.split_once("://").unwrap().1.trim_end_matches('/');
        let (host, port) = hostport.split_once(':').unwrap();
        assert_eq!(host, "otel-collector", "{s} exports elsewhere");
        assert!(
            listening.contains(port),
            "{s} exports to port {port}; the collector listens on {listening:?}"
        );
    }

    // The collector's trace pipeline receives OTLP and exports to the jaeger service.
    let pipeline = &collector["service"]["pipelines"]["traces"];
    assert!(strings(&pipeline["receivers"]).contains(&"otlp".to_owned()));
    let exporters = strings(&pipeline["exporters"]);
    assert!(
        exporters.iter().any(|e| str_at(
            &collector,
            &format!("/exporters/{}/endpoint", e.replace('/', "~1"))
        )
        .is_some_and(|ep| ep.starts_with("jaeger:") || ep.contains("://jaeger:"))),
        "no trace exporter sends to the jaeger service: {exporters:?}"
    );
    for section in ["receivers", "processors", "exporters"] {
        for p in collector["service"]["pipelines"]
            .as_object()
            .unwrap()
            .values()
        {
            for component in strings(&p[section]) {
                assert!(
                    collector[section].get(&component).is_some(),
                    "the pipelines use {component}, which {section} does not declare"
                );
            }
        }
    }
}

#[test]
fn the_dockerfile_builds_both_binaries_as_a_non_root_user() {
    let dockerfile = read("deploy/Dockerfile");
    let bins = service_binaries();
    let build = dockerfile
        .lines()
        .find(|l| l.contains("cargo build --release"))
        .expect("a release build");
    for bin in &bins {
        assert!(
            build.contains(&format!("-p {bin}")),
            "the image does not build {bin}"
        );
        assert!(
            dockerfile.contains(&format!("target/release/{bin}")),
            "the image does not install {bin}"
        );
    }
    assert!(dockerfile_uid() > 0, "the image runs as root");
    let cmd = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("CMD "))
        .next_back()
        .expect("a default command");
    let cmd: Vec<String> =
        serde_json::from_str(cmd).expect("CMD in exec (JSON) form, so signals reach the binary");
    assert!(bins.contains(&cmd[0]));

    // The builder's toolchain satisfies the workspace's rust-version.
    let version = |s: &str| -> (u64, u64) {
        let mut parts = s.split('.').map(|p| p.parse::<u64>().unwrap());
        (parts.next().unwrap(), parts.next().unwrap())
    };
    let image_rust = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("ARG RUST_VERSION="))
        .expect("ARG RUST_VERSION");
    let workspace = read("Cargo.toml");
    let required = workspace
        .lines()
        .find(|l| l.starts_with("rust-version"))
        .and_then(|l| l.split('"').nth(1))
        .expect("the workspace's rust-version");
    assert!(
        version(image_rust) >= version(required),
        "rust {image_rust} < rust-version {required}"
    );

    // The build context keeps what the build needs and drops what it must not send.
    let ignore: Vec<String> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_end_matches('/').to_owned())
        .collect();
    for dropped in ["target", ".git"] {
        assert!(
            ignore.iter().any(|l| l == dropped),
            ".dockerignore should exclude {dropped}"
        );
    }
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "migrations",
        "common",
        "storage",
        "runtime",
        "api",
        "worker",
        "tests",
        "bench",
    ] {
        assert!(
            !ignore.iter().any(|l| l == needed),
            ".dockerignore excludes {needed}, which the build needs"
        );
    }
}
