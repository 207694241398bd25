#!/usr/bin/env python3
"""A stand-in for an OpenAI-compatible POST /v1/audio/transcriptions, for the
contract test of vsr's openai engine (tests/test_transcribe.c).

It checks requests as the documented API does (bearer key, multipart form
with `file` and `model`, response_format, timestamp_granularities[] needing
verbose_json) and answers verbose_json shaped like OpenAI's, with the words
and segments of a script file given on the command line: it recognises no
speech. It reads the WAV header of the upload to answer the real duration.

  transcribe_stand_in.py SCRIPT.json [--key KEY] [--fail STATUS[:RETRY_AFTER]]...

Each --fail answers one request with that status (and Retry-After header)
before the normal answers start. Prints its port on the first line of
stdout. GET /stats answers {"requests": N, "last_fields": {...}}.
"""
import json
import struct
import sys
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = sys.argv[1:]
script = json.load(open(args[0]))
key = None
failures = []
i = 1
while i < len(args):
    if args[i] == "--key":
        key = args[i + 1]
        i += 2
    elif args[i] == "--fail":
        status, _, retry = args[i + 1].partition(":")
        failures.append((int(status), retry or None))
        i += 2
    else:
        sys.exit("unknown argument " + args[i])
stats = {"requests": 0, "last_fields": {}}


def error(handler, status, message, code=None, headers=()):
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error",
                                 "param": None, "code": code}}).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers:
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def wav_duration(data):
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    channels, rate = struct.unpack("<HI", data[22:28])
    bits = struct.unpack("<H", data[34:36])[0]
    size = struct.unpack("<I", data[40:44])[0]
    if rate == 0 or channels == 0 or bits == 0 or size > len(data) - 44:
        return None
    return size / (rate * channels * bits / 8)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        body = json.dumps(stats).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(length)
        stats["requests"] += 1
        if self.path != "/v1/audio/transcriptions":
            return error(self, 404, "Invalid URL (POST %s)" % self.path)
        if failures:
            status, retry = failures.pop(0)
            return error(self, status, "stand-in failure", None,
                         [("Retry-After", retry)] if retry else [])
        if key is not None and self.headers.get("Authorization") != "Bearer " + key:
            return error(self, 401, "Incorrect API key provided", "invalid_api_key")
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("multipart/form-data"):
            return error(self, 400, "Content-Type must be multipart/form-data")
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + data)
        fields, upload = {}, None
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name == "file":
                upload = part.get_payload(decode=True)
            else:
                fields.setdefault(name, []).append(part.get_content().strip())
        stats["last_fields"] = fields
        if upload is None:
            return error(self, 400, "you must provide a file", None)
        if "model" not in fields:
            return error(self, 400, "you must provide a model parameter")
        duration = wav_duration(upload)
        if duration is None:
            return error(self, 400, "Invalid file format.")
        form = fields.get("response_format", ["json"])[0]
        granularities = fields.get("timestamp_granularities[]", [])
        if granularities and form != "verbose_json":
            return error(self, 400, "timestamp_granularities requires verbose_json")
        answer = {"text": " ".join(s["text"].strip() for s in script["segments"])}
        if form == "verbose_json":
            answer = {"task": "transcribe", "language": "english", "duration": duration,
                      "text": answer["text"]}
            if "segment" in granularities or not granularities:
                answer["segments"] = [dict(id=n, seek=0, tokens=[], temperature=0.0,
                                           avg_logprob=-0.2, compression_ratio=1.2,
                                           no_speech_prob=0.01, **s)
                                      for n, s in enumerate(script["segments"])]
            if "word" in granularities:
                answer["words"] = script["words"]
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
