//! `warden demo`: the streaming service on an embedded cluster with a
//! simulated fleet and injected attacks.

use anyhow::Result;
pub use warden::stream::demo::DemoArgs as Args;

pub fn run(args: Args) -> Result<()> {
    let stop = super::shutdown_flag()?;
    let report = warden::stream::demo::run(&args, &stop)?;
    print!("{}", report.render());
    Ok(())
}
