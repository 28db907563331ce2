//! Serves the web app alone, without the rest of the `gradsheet` binary:
//! `cargo run -p gradsheet-web --example serve -- 8080`.

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let server = gradsheet_web::Server::bind(([127, 0, 0, 1], port).into()).await?;
        println!("gradsheet is running at {}", server.url());
        server.run().await
    })
}
