//! gradsheet-web's integration tests, one binary: the JSON API over real HTTP, a bounded
//! load test on loopback, and end-to-end tests in headless Chromium.

mod abuse;
mod api;
mod book_api;
mod book_page;
mod browser;
mod http;
mod labs;
mod learner;
mod load;
mod net_api;
mod net_page;
mod webdriver;
