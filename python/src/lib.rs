//! `poolfetch._poolfetch`: the Rust side of the Python package. It starts a run on a thread of
//! its own and hands its records to Python in batches of JSON lines (the same lines `poolfetch
//! fetch` writes, so a Python record has exactly the CLI record's fields); `poolfetch/__init__.py`
//! turns them into dicts and builds the iterator, `gather` and `as_completed` on top.
//!
//! The GIL is released whenever this waits; a Python thread keeps running during a fetch.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use poolfetch::job::{Inputs, Job, JobOutput, JobSpec};
use poolfetch::{
    Body, BodyMode, CancelToken, Config, EngineKind, ErrorKind, FetchError, Fetcher, HttpVersion,
    Order, Record, Request, RequestTemplate, RunOptions, Shard,
};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyIterator, PyList, PyString, PyTuple};

/// Records a run may hold ready for Python beyond its window: with the window, what bounds
/// the memory of a run whatever the number of URLs.
const READY: usize = 256;

/// How often a wait wakes up to look for Ctrl-C.
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// Set once the interpreter is exiting (by an `atexit` hook): a thread of ours must not take
/// the GIL again, since CPython ends a thread that does with a forced unwind, which aborts
/// the process when it meets Rust frames ("FATAL: exception not rethrown").
static EXITING: AtomicBool = AtomicBool::new(false);

/// Streams alive now: the exit hook waits for their threads only if there are any.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Called without the GIL, just before a thread of ours would take it again: once the
/// interpreter exits, the thread waits here for the process to end instead.
fn never_back_if_exiting() {
    while EXITING.load(Ordering::SeqCst) {
        std::thread::park_timeout(Duration::from_secs(3600));
    }
}

/// The `atexit` hook: from now on no thread of ours takes the GIL; a thread already on its
/// way back to it gets a moment to arrive (and park at its next wait) before finalization.
#[pyfunction]
fn _at_exit(py: Python<'_>) {
    EXITING.store(true, Ordering::SeqCst);
    if LIVE.load(Ordering::SeqCst) > 0 {
        py.detach(|| std::thread::sleep(SIGNAL_CHECK * 2));
    }
}

/// How a run ended, as its thread reports it.
enum Ended {
    /// Every input has its record.
    Done,
    /// The run could not go on (an output file that cannot be written, …).
    Failed(String),
    /// The caller's iterable raised: raised again after the records of what was read.
    Input(PyErr),
}

/// A run in progress: its records as they may leave, and how to stop it.
#[pyclass(module = "poolfetch._poolfetch")]
struct Stream {
    records: Receiver<Record>,
    cancel: CancelToken,
    run: Mutex<Option<JoinHandle<Ended>>>,
    /// A Ctrl-C seen while waiting: raised once the records that are ready are handed over.
    interrupt: Mutex<Option<PyErr>>,
}

#[pymethods]
impl Stream {
    /// Up to `max` records as JSON lines in one `bytes`, waiting (without the GIL) for the
    /// first; `None` when the run is over. Ctrl-C cancels the run: the records still coming
    /// (within the cancel grace) are handed over first, then `KeyboardInterrupt` is raised.
    #[pyo3(signature = (max = 1024))]
    fn next_batch(&self, py: Python<'_>, max: usize) -> PyResult<Option<Py<PyBytes>>> {
        loop {
            let batch = py.detach(|| {
                let batch = self.wait_for_batch(max.max(1));
                never_back_if_exiting();
                batch
            });
            match batch {
                Some(lines) => return Ok(Some(PyBytes::new(py, &lines).unbind())),
                None if self.records.is_empty() && self.run_is_over() => return self.end(py),
                None => {
                    if let Err(interrupt) = py.check_signals() {
                        self.cancel.cancel();
                        if let Ok(mut slot) = self.interrupt.lock() {
                            slot.get_or_insert(interrupt);
                        }
                    }
                }
            }
        }
    }

    /// Stop the run: nothing more is sent, requests in flight get the cancel grace, and every
    /// input read so far still gets its record.
    fn cancel(&self) {
        self.cancel.cancel();
    }
}

impl Stream {
    /// Wait up to [`SIGNAL_CHECK`] for a record, then take what else is ready (up to `max`).
    fn wait_for_batch(&self, max: usize) -> Option<Vec<u8>> {
        let first = match self.records.recv_timeout(SIGNAL_CHECK) {
            Ok(record) => record,
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
        };
        let mut lines = Vec::with_capacity(512);
        let mut add = |record: &Record| {
            // A record always serializes (it is plain data); a failure would be a bug.
            if serde_json::to_writer(&mut lines, record).is_ok() {
                lines.push(b'\n');
            }
        };
        add(&first);
        for _ in 1..max {
            match self.records.try_recv() {
                Ok(record) => add(&record),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        Some(lines)
    }

    fn run_is_over(&self) -> bool {
        self.run
            .lock()
            .map_or(true, |run| run.as_ref().is_none_or(JoinHandle::is_finished))
    }

    /// The run is over: raise what stopped it, if anything did.
    fn end(&self, py: Python<'_>) -> PyResult<Option<Py<PyBytes>>> {
        let handle = self.run.lock().ok().and_then(|mut run| run.take());
        let ended = match handle {
            Some(handle) => py.detach(|| {
                let ended = handle.join();
                never_back_if_exiting();
                ended
            }),
            None => Ok(Ended::Done),
        };
        if let Some(interrupt) = self.interrupt.lock().ok().and_then(|mut slot| slot.take()) {
            return Err(interrupt);
        }
        match ended {
            Ok(Ended::Done) => Ok(None),
            Ok(Ended::Failed(message)) => Err(PyRuntimeError::new_err(message)),
            Ok(Ended::Input(error)) => Err(error),
            Err(_) => Err(PyRuntimeError::new_err("the run's thread panicked")),
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // Dropped before its end (a `break` out of the loop): stop sending. The run's thread
        // ends by itself once its records have nowhere to go.
        self.cancel.cancel();
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The caller's URLs, read one at a time (with the GIL) as the run dispatches them.
struct PyInputs {
    iter: Py<PyIterator>,
    /// Items read so far (to name a bad one: `urls[7]`).
    read: usize,
    template: RequestTemplate,
    cancel: CancelToken,
    error: Arc<Mutex<Option<PyErr>>>,
}

impl Iterator for PyInputs {
    type Item = Request;

    fn next(&mut self) -> Option<Request> {
        // A cancelled run reads no more: records are for what was read.
        if self.cancel.is_cancelled() || EXITING.load(Ordering::SeqCst) {
            return None;
        }
        Python::attach(|py| match self.iter.bind(py).clone().next()? {
            Ok(item) => {
                self.read += 1;
                Some(request_of(&item, self.read - 1, &self.template))
            }
            Err(error) => {
                if let Ok(mut slot) = self.error.lock() {
                    *slot = Some(error);
                }
                None
            }
        })
    }
}

/// An input item's request: a `str` is a URL; a `dict` is a request with the keys of a JSON
/// request line (`url`, `method`, `headers`, `json`, `data`, `form`, `body_file`, `timeout`,
/// `meta`), one that cannot be sent an `invalid_request` record; anything else is no URL
/// (its `repr` in an `invalid_url` record: one record per input, whatever it is).
fn request_of(item: &Bound<'_, PyAny>, index: usize, template: &RequestTemplate) -> Request {
    if let Ok(text) = item.cast::<PyString>() {
        return template.request(text.to_string_lossy().into_owned());
    }
    let shown = || {
        item.repr().map_or_else(
            |_| "<not a URL>".to_string(),
            |r| r.to_string_lossy().into_owned(),
        )
    };
    if item.is_instance_of::<PyDict>() {
        let at = format!("urls[{index}]");
        let dumps = item
            .py()
            .import("json")
            .and_then(|json| json.getattr("dumps"))
            .and_then(|dumps| dumps.call1((item,)))
            .and_then(|text| text.extract::<String>());
        return match dumps {
            Ok(text) => poolfetch::json_request(&text, template, &at),
            Err(error) => {
                let why = format!("{at}: not JSON: {error}");
                Request::refused(shown(), FetchError::new(ErrorKind::InvalidRequest, why))
            }
        };
    }
    template.request(shown())
}

/// Every item of a list or tuple as a request, checked before any request: each a `str`
/// or a `dict`.
fn request_list(
    urls: &Bound<'_, PyAny>,
    template: &RequestTemplate,
) -> PyResult<Option<Vec<Request>>> {
    if !(urls.is_instance_of::<PyList>() || urls.is_instance_of::<PyTuple>()) {
        return Ok(None);
    }
    let mut list = Vec::with_capacity(urls.len()?);
    for (i, item) in urls.try_iter()?.enumerate() {
        let item = item?;
        if !(item.is_instance_of::<PyString>() || item.is_instance_of::<PyDict>()) {
            return Err(PyTypeError::new_err(format!(
                "urls[{i}] is a {}, not a str (a URL) or a dict (a request)",
                item.get_type().name()?
            )));
        }
        list.push(request_of(&item, i, template));
    }
    Ok(Some(list))
}

fn seconds(name: &str, value: Option<f64>) -> PyResult<Option<Duration>> {
    value
        .map(|s| {
            Duration::try_from_secs_f64(s)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "{name} must be a positive number of seconds, not {s}"
                    ))
                })
        })
        .transpose()
}

/// A server's delay: 0 or more seconds.
fn latency_of(latency: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(latency).map_err(|_| {
        PyValueError::new_err(format!("latency must be 0 or more seconds, not {latency}"))
    })
}

/// The value named `given` by the library's one table of names, or a ValueError listing them.
fn choice<T: std::str::FromStr<Err = poolfetch::UnknownName>>(
    keyword: &str,
    given: &str,
) -> PyResult<T> {
    given
        .parse()
        .map_err(|e| PyValueError::new_err(format!("{keyword}=: {e}")))
}

/// `shard=(k, n)`, checked.
fn shard_of(shard: Option<(u64, u64)>) -> PyResult<Option<Shard>> {
    shard
        .map(|(index, count)| Shard::new(index, count))
        .transpose()
        .map_err(|e| PyValueError::new_err(format!("shard=({:?}): {e}", shard.unwrap_or_default())))
}

/// What every request of a run sends besides its URL.
fn template(
    method: Option<String>,
    json: Option<String>,
    data: Option<Vec<u8>>,
) -> PyResult<RequestTemplate> {
    let body = match (json, data) {
        (Some(_), Some(_)) => return Err(PyValueError::new_err("give json or data, not both")),
        (Some(json), None) => Some(Body::json(&json).map_err(PyValueError::new_err)?),
        (None, Some(data)) => Some(Body::data(data)),
        (None, None) => None,
    };
    let method = method
        .map(|m| poolfetch::check_method(&m))
        .transpose()
        .map_err(PyValueError::new_err)?;
    Ok(RequestTemplate {
        method,
        body: body.map(Arc::new),
    })
}

/// The keywords of `fetch`, `gather` and `as_completed`, with their defaults: the one place
/// they are read (the stubs' `Options` gives their types to type checkers).
struct Options {
    order: String,
    engine: String,
    http2: bool,
    timeout: f64,
    connect_timeout: Option<f64>,
    max_time: Option<f64>,
    retries: u32,
    body: String,
    max_body: Option<u64>,
    headers: Option<Vec<(String, String)>>,
    method: Option<String>,
    json: Option<String>,
    data: Option<Vec<u8>>,
    output_dir: Option<std::path::PathBuf>,
    batch_size: Option<usize>,
    window: Option<usize>,
    shard: Option<(u64, u64)>,
    compressed: bool,
    insecure: bool,
    cacert: Option<std::path::PathBuf>,
    proxy: Option<String>,
    rate: Option<String>,
    rate_per_host: Option<String>,
    per_host: Option<usize>,
    include_headers: bool,
    header_fields: Option<Vec<String>>,
    resolve: Option<Vec<String>>,
    client_cert: Option<std::path::PathBuf>,
    client_key: Option<std::path::PathBuf>,
    max_redirects: u32,
    output: Option<std::path::PathBuf>,
    resume: bool,
    retry_failed: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            order: Order::Input.name().into(),
            engine: EngineKind::Threads.name().into(),
            http2: false,
            timeout: 30.0,
            connect_timeout: None,
            max_time: None,
            retries: 0,
            body: BodyMode::Auto.name().into(),
            max_body: None,
            headers: None,
            method: None,
            json: None,
            data: None,
            output_dir: None,
            batch_size: None,
            window: None,
            shard: None,
            compressed: false,
            insecure: false,
            cacert: None,
            proxy: None,
            rate: None,
            rate_per_host: None,
            per_host: None,
            include_headers: false,
            header_fields: None,
            resolve: None,
            client_cert: None,
            client_key: None,
            max_redirects: 10,
            output: None,
            resume: false,
            retry_failed: false,
        }
    }
}

impl Options {
    /// The keywords given, over the defaults; an unknown one is a `TypeError`, as Python's
    /// own functions raise it.
    fn of(keywords: Option<&Bound<'_, PyDict>>) -> PyResult<Options> {
        let mut options = Options::default();
        for (key, value) in keywords.into_iter().flatten() {
            let key: String = key.extract()?;
            options.set(&key, &value)?;
        }
        Ok(options)
    }

    fn set(&mut self, key: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        // A value of the wrong type names the keyword the caller gave.
        macro_rules! take {
            ($field:ident) => {
                self.$field = value.extract().map_err(|e: PyErr| {
                    PyTypeError::new_err(format!("{key}=: {}", e.value(value.py())))
                })?
            };
        }
        match key {
            "order" => take!(order),
            "engine" => take!(engine),
            "http2" => take!(http2),
            "timeout" => take!(timeout),
            "connect_timeout" => take!(connect_timeout),
            "max_time" => take!(max_time),
            "retries" => take!(retries),
            "body" => take!(body),
            "max_body" => take!(max_body),
            "headers" => take!(headers),
            "method" => take!(method),
            "json" => take!(json),
            "data" => take!(data),
            "output_dir" => take!(output_dir),
            "batch_size" => take!(batch_size),
            "window" => take!(window),
            "shard" => take!(shard),
            "compressed" => take!(compressed),
            "insecure" => take!(insecure),
            "cacert" => take!(cacert),
            "proxy" => take!(proxy),
            "rate" => take!(rate),
            "rate_per_host" => take!(rate_per_host),
            "per_host" => take!(per_host),
            "include_headers" => take!(include_headers),
            "header_fields" => take!(header_fields),
            "resolve" => take!(resolve),
            "client_cert" => take!(client_cert),
            "client_key" => take!(client_key),
            "max_redirects" => take!(max_redirects),
            "output" => take!(output),
            "resume" => take!(resume),
            "retry_failed" => take!(retry_failed),
            unknown => {
                return Err(PyTypeError::new_err(format!(
                    "unexpected keyword argument '{unknown}'"
                )));
            }
        }
        Ok(())
    }
}

/// Start fetching `urls`; see `poolfetch.fetch` for the arguments. Every refusal is raised
/// here, before any request.
#[pyfunction]
#[pyo3(signature = (urls, pool = 5, **keywords))]
fn start(
    py: Python<'_>,
    urls: &Bound<'_, PyAny>,
    pool: i64,
    keywords: Option<&Bound<'_, PyDict>>,
) -> PyResult<Stream> {
    let Options {
        order,
        engine,
        http2,
        timeout,
        connect_timeout,
        max_time,
        retries,
        body,
        max_body,
        headers,
        method,
        json,
        data,
        output_dir,
        batch_size,
        window,
        shard,
        compressed,
        insecure,
        cacert,
        proxy,
        rate,
        rate_per_host,
        per_host,
        include_headers,
        header_fields,
        resolve,
        client_cert,
        client_key,
        max_redirects,
        output,
        resume,
        retry_failed,
    } = Options::of(keywords)?;
    let (order, engine, body) = (order.as_str(), engine.as_str(), body.as_str());
    if urls.is_instance_of::<PyString>() || urls.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err(
            "urls is an iterable of URLs: give [url] for one",
        ));
    }
    let mut config = Config::default();
    config.pool = usize::try_from(pool)
        .map_err(|_| PyValueError::new_err(format!("pool must be 0 or more, not {pool}")))?;
    // Field by field: `RunOptions` is `#[non_exhaustive]`.
    let mut shape = RunOptions::default();
    shape.order = choice::<Order>("order", order)?;
    shape.batch_size = batch_size;
    shape.window = window;
    shape.shard = shard_of(shard)?;
    shape
        .check()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    config.engine = choice::<EngineKind>("engine", engine)?;
    if http2 {
        config.http = HttpVersion::Http2;
    }
    config.timeout = seconds("timeout", Some(timeout))?.unwrap_or(config.timeout);
    config.connect_timeout = seconds("connect_timeout", connect_timeout)?;
    config.max_time = seconds("max_time", max_time)?;
    config.retry.retries = retries;
    config.body = choice::<BodyMode>("body", body)?;
    config.max_body = max_body;
    config.headers = headers.unwrap_or_default();
    config.output_dir = output_dir;
    config.compressed = compressed;
    config.insecure = insecure;
    config.cacert = cacert;
    config.proxy = proxy;
    // "N/s", "N/m", "N/h" or a number per second (made "N/s" by the Python side), read by
    // the library's own rule.
    let rate_of = |keyword: &str, rate: Option<String>| {
        rate.map(|r| r.parse::<poolfetch::Rate>())
            .transpose()
            .map_err(|e| PyValueError::new_err(format!("{keyword}=: {e}")))
    };
    config.rate = rate_of("rate", rate)?;
    config.rate_per_host = rate_of("rate_per_host", rate_per_host)?;
    config.per_host = per_host;
    config.include_headers = include_headers;
    config.header_fields = header_fields.unwrap_or_default();
    config.resolve = resolve
        .unwrap_or_default()
        .iter()
        .map(|pin| pin.parse::<poolfetch::Pin>())
        .collect::<Result<_, _>>()
        .map_err(|e| PyValueError::new_err(format!("resolve=: {e}")))?;
    config.client_cert = client_cert;
    config.client_key = client_key;
    config.max_redirects = max_redirects;
    config
        .validate()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let template = template(method, json, data)?;
    // A run without output= is a plain stream: the job's own refusal, in the library's words.
    if (resume || retry_failed) && output.is_none() {
        let refusal = poolfetch::job::JobError::ResumeNeedsFile;
        return Err(PyValueError::new_err(format!("{refusal} (output=)")));
    }
    let list = request_list(urls, &template)?;
    let fetcher = py
        .detach(|| Fetcher::new(config))
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let cancel = CancelToken::new();
    let (sender, records) = crossbeam_channel::bounded(READY);
    let run = match output {
        Some(path) => {
            let Some(requests) = list else {
                return Err(PyTypeError::new_err(
                    "with output=FILE, urls must be a list or tuple (resume reads them twice)",
                ));
            };
            let inputs = Inputs {
                requests,
                ..Inputs::default()
            };
            let mut spec = JobSpec::new(inputs, JobOutput::File(path))
                .resume(resume)
                .order(shape.order)
                .shard(shape.shard);
            spec.window = shape.window;
            spec.batch_size = shape.batch_size;
            spec.retry_failed = retry_failed;
            spec.cancel = cancel.clone();
            let handed = sender.clone();
            spec.on_record = Some(Arc::new(move |record: &Record| {
                let _ = handed.send(record.clone());
            }));
            py.detach(|| start_job(fetcher, spec, sender))?
        }
        None => {
            let error = Arc::new(Mutex::new(None));
            let requests: Box<dyn Iterator<Item = Request> + Send> = match list {
                Some(requests) => Box::new(requests.into_iter()),
                None => Box::new(PyInputs {
                    iter: urls.try_iter()?.unbind(),
                    read: 0,
                    template,
                    cancel: cancel.clone(),
                    error: Arc::clone(&error),
                }),
            };
            let mut options = shape;
            options.cancel = cancel.clone();
            start_stream(fetcher, requests, options, sender, error)
        }
    };
    LIVE.fetch_add(1, Ordering::SeqCst);
    Ok(Stream {
        records,
        cancel,
        run: Mutex::new(Some(run)),
        interrupt: Mutex::new(None),
    })
}

/// Run `requests` on a thread of their own, each record into `sender`.
fn start_stream(
    fetcher: Fetcher,
    requests: Box<dyn Iterator<Item = Request> + Send>,
    options: RunOptions,
    sender: Sender<Record>,
    error: Arc<Mutex<Option<PyErr>>>,
) -> JoinHandle<Ended> {
    std::thread::spawn(move || {
        let cancel = options.cancel.clone();
        for record in fetcher.stream_with(requests, options) {
            if sender.send(record).is_err() {
                // Nobody reads any more (the Python object is gone): stop.
                cancel.cancel();
            }
        }
        match error.lock().ok().and_then(|mut slot| slot.take()) {
            Some(error) => Ended::Input(error),
            None => Ended::Done,
        }
    })
}

/// Check and start a job (records into a file, resumable) on a thread of its own; its
/// refusals come back here, before any request.
fn start_job(
    fetcher: Fetcher,
    spec: JobSpec,
    sender: Sender<Record>,
) -> PyResult<JoinHandle<Ended>> {
    let (ready, checked) = crossbeam_channel::bounded::<Result<(), String>>(1);
    let handle = std::thread::spawn(move || {
        let job = match Job::new(&fetcher, spec) {
            Ok(job) => job,
            Err(e) => {
                let _ = ready.send(Err(e.to_string()));
                return Ended::Done;
            }
        };
        let _ = ready.send(Ok(()));
        let ended = match job.run() {
            Ok(_) => Ended::Done,
            Err(e) => Ended::Failed(e.to_string()),
        };
        drop(sender);
        ended
    });
    match checked.recv() {
        Ok(Ok(())) => Ok(handle),
        Ok(Err(message)) => Err(PyValueError::new_err(message)),
        Err(_) => Err(PyRuntimeError::new_err(
            "the run's thread ended before it started",
        )),
    }
}

/// The embedded test server, on 127.0.0.1 and a free port.
#[pyclass(module = "poolfetch._poolfetch")]
struct Server {
    server: Mutex<Option<poolfetch::server::Server>>,
    /// `http://127.0.0.1:PORT`.
    #[pyo3(get)]
    url: String,
    /// The port whose every answer is broken HTTP, chosen by the path.
    #[pyo3(get)]
    faults_url: String,
}

#[pymethods]
impl Server {
    #[new]
    #[pyo3(signature = (latency = 0.0))]
    fn new(py: Python<'_>, latency: f64) -> PyResult<Self> {
        let latency = latency_of(latency)?;
        let server = py
            .detach(|| {
                poolfetch::server::Server::start(poolfetch::server::ServerConfig {
                    latency,
                    ..Default::default()
                })
            })
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start the server: {e}")))?;
        Ok(Server {
            url: server.url(""),
            faults_url: server.fault_url(""),
            server: Mutex::new(Some(server)),
        })
    }

    /// Requests answered, connections accepted, and the most requests in flight at once.
    fn stats(&self) -> PyResult<(u64, u64, u64)> {
        let server = self
            .server
            .lock()
            .map_err(|_| PyRuntimeError::new_err("poisoned"))?;
        let server = server
            .as_ref()
            .ok_or_else(|| PyRuntimeError::new_err("the server is stopped"))?;
        let stats = server.stats();
        Ok((
            stats.requests,
            stats.connections,
            stats.max_in_flight as u64,
        ))
    }

    /// Stop it (also when the object goes).
    fn stop(&self, py: Python<'_>) {
        let server = self.server.lock().ok().and_then(|mut s| s.take());
        py.detach(|| drop(server));
    }
}

/// The pool-size sweep of `poolfetch bench`, its results as JSON.
#[pyfunction(name = "bench")]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (requests = 100, latency = 0.05, pools = None, engines = None, runs = None, batch_size = None, url = None))]
fn run_bench(
    py: Python<'_>,
    requests: usize,
    latency: f64,
    pools: Option<Vec<usize>>,
    engines: Option<Vec<String>>,
    runs: Option<usize>,
    batch_size: Option<usize>,
    url: Option<String>,
) -> PyResult<String> {
    use poolfetch::bench::{BenchPlan, Contender};
    let mut plan = BenchPlan {
        requests,
        latency: latency_of(latency)?,
        runs,
        batch_size,
        url,
        ..BenchPlan::default()
    };
    if let Some(pools) = pools {
        plan.pools = pools;
    }
    if let Some(engines) = engines {
        plan.engines = engines
            .iter()
            .map(|name| choice::<Contender>("engines", name))
            .collect::<PyResult<_>>()?;
    }
    let results = py
        .detach(|| poolfetch::bench::run(&plan, |_| {}))
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    serde_json::to_string(&results).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

#[pymodule]
fn _poolfetch(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(start, module)?)?;
    module.add_function(wrap_pyfunction!(_at_exit, module)?)?;
    module.add_function(wrap_pyfunction!(run_bench, module)?)?;
    module.add_class::<Stream>()?;
    module.add_class::<Server>()?;
    module.add("DEFAULT_POOL", poolfetch::DEFAULT_POOL)?;
    Ok(())
}
