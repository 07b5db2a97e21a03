"""A checkpoint as a web service: `mrstnet serve` (an HTTP API and a page to try it).

    server.py   the command's body: safe defaults (loopback, token), uvicorn, clean stop
    app.py      the routes: POST /v1/predict, GET /v1/model, /healthz, /openapi.json, /
    service.py  what a request does (the code of `mrstnet predict` / `mrstnet timeline`)
                and what the server owns (temporary folder, threads)
    batcher.py  the model's one worker thread: clips of concurrent requests in one batch
    upload.py   a multipart upload streamed to the server's folder, cut off at the limit,
                checked by opening it with PyAV
    limits.py   the limits, admission (a bounded number of requests), API errors
    schemas.py  the answers' JSON, for the OpenAPI document
    static/     the page: plain HTML, CSS, JS

Needs the optional extra `serve` (FastAPI, uvicorn, python-multipart). Importing this
package imports none of it; `server.serve` asks for it through `mrstnet.extras.require`.
"""
