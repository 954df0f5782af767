//! POST a urlencoded form and a JSON document; the server echoes what arrived.
//!
//! `cargo run --example post_form_json`

use poolfetch::Body;
use poolfetch::server::{Server, ServerConfig};
use poolfetch::{Config, Fetcher, Request};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::start(ServerConfig::default())?;
    let fetcher = Fetcher::new(Config::default())?;
    let post = |body: Body| Request::new("POST", server.url("/post")).with_body(body);
    let records = fetcher.fetch_all([
        post(Body::form([("title", "buy milk"), ("done", "false")])),
        post(Body::json(r#"{"title": "buy milk", "done": false}"#)?),
    ]);
    for record in records {
        let echo = record.body.unwrap_or_default();
        println!(
            "{} sent {}: form {} json {}",
            record.method, echo["content_type"], echo["form"], echo["json"]
        );
    }
    Ok(())
}
