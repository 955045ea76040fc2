"""Live views by Server-Sent Events, for any page that shows something that changes: the hub
of watchers (`hub`), what a watcher keeps (`watchers`), one viewer's stream (`stream`) and
the endpoints' caps and encoding (`sse`). It knows nothing of runs: the pipeline plugs in the
news of its commits and the reading of sites' states (`automation.live_source`)."""
