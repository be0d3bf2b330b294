"""A minimal FastAPI + uvicorn twin of `watt serve`'s POST /v1/predict, for bench/serve.mjs.

Same contract: X-API-KEY checked in constant time against WATT_API_KEYS (SHA-256 digests,
hmac.compare_digest), a 16 KiB body limit, the same JSON Schema constraints through pydantic
(class A-G, bounded numbers, HH:MM, no unknown field, no string-to-number coercion), 400 with
field errors, and an equivalent closed-form lead time: one-node warm-up towards the stove's
ceiling T_o + P/H, indoor air from the model's two-exponential cool-down curve. Run with
Debian's python3-fastapi, python3-uvicorn (+ python3-uvloop, python3-httptools).
"""
import hashlib
import hmac
import json
import math
import os
import sys
from typing import Literal, Optional, Union

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Extra, Field, StrictFloat, StrictInt, validator

MODEL = json.load(open(os.environ["WATT_BENCH_MODEL"]))
KEYS = [hashlib.sha256(k.strip().encode()).digest() for k in os.environ.get("WATT_API_KEYS", "").split(",") if k.strip()]
Number = Union[StrictInt, StrictFloat]
BOUNDS = {"outdoor_temp_c": (-40, 45), "indoor_temp_c": (-10, 35), "target_temp_c": (5, 30), "stove_power_kw": (1, 50), "temp_min_c": (-40, 45)}


class PredictRequest(BaseModel, extra=Extra.forbid):
    dpe_class: Literal["A", "B", "C", "D", "E", "F", "G"]
    outdoor_temp_c: Number
    indoor_temp_c: Optional[Number] = None
    target_temp_c: Number = 19
    target_time: str = Field("07:00", regex=r"^([01]?[0-9]|2[0-3]):[0-5][0-9]$")
    stove_power_kw: Number = 8
    temp_min_c: Optional[Number] = None

    @validator("outdoor_temp_c", "indoor_temp_c", "target_temp_c", "stove_power_kw", "temp_min_c")
    def in_bounds(cls, v, field):
        lo, hi = BOUNDS[field.name]
        if v is not None and not lo <= v <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return v


app = FastAPI()


def error(status, message, details=()):
    return JSONResponse({"error": message, "details": list(details)}, status_code=status)


@app.exception_handler(RequestValidationError)
async def invalid(_request, exc):
    return error(400, "invalid request body", [{"field": ".".join(str(p) for p in e["loc"][1:]), "message": e["msg"]} for e in exc.errors()])


@app.middleware("http")
async def guard(request: Request, call_next):
    if request.url.path == "/v1/predict":
        key = request.headers.get("x-api-key", "")
        digest = hashlib.sha256(key.encode()).digest()
        ok = False
        for k in KEYS:
            ok = hmac.compare_digest(k, digest) or ok
        if not key or not ok:
            return error(401, "missing or wrong X-API-KEY header")
        if int(request.headers.get("content-length", "0")) > 16 * 1024:
            return error(413, "request body over 16384 bytes")
        if not request.headers.get("content-type", "").startswith("application/json"):
            return error(415, "unsupported content type: send application/json")
    return await call_next(request)


def clock(minutes):
    minutes %= 1440
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@app.post("/v1/predict")
def predict(body: PredictRequest):
    cls = MODEL["classes"][body.dpe_class]
    h = cls["h_eff_w_per_k"]
    h_, m_ = body.target_time.split(":")
    target_min = int(h_) * 60 + int(m_)
    ceiling = body.outdoor_temp_c + body.stove_power_kw * 1000 / h
    inputs = {"dpe_class": body.dpe_class, "outdoor_temp_c": body.outdoor_temp_c, "indoor_temp_c": body.indoor_temp_c, "target_temp_c": body.target_temp_c, "target_time": clock(target_min), "stove_power_kw": body.stove_power_kw}
    base = {"model_version": MODEL["version"], "inputs": inputs}
    if body.target_temp_c >= ceiling:
        return {"feasible": False, "lead_time_min": None, "ignition_time": None, "reason": "cannot be reached", **base}
    curve = MODEL["cooldown"]["classes"][body.dpe_class]
    estimated = body.indoor_temp_c is None
    if estimated:
        t = (target_min + 1440 - 22 * 60) % 1440 - 60
        indoor = body.outdoor_temp_c + (20 - body.outdoor_temp_c) * (curve["w_fast"] * math.exp(-t / curve["tau_fast_min"]) + curve["w_slow"] * math.exp(-t / curve["tau_slow_min"]))
    else:
        indoor = body.indoor_temp_c
    tau = 4.0e6 / h / 60 * 3
    lead = 0 if indoor >= body.target_temp_c else math.ceil(tau * math.log((ceiling - indoor) / (ceiling - body.target_temp_c)) * MODEL["classes"][body.dpe_class]["margin_factor"])
    if lead > MODEL["max_lead_min"]:
        return {"feasible": False, "lead_time_min": None, "ignition_time": None, "reason": "needs more than 9 h", **base}
    return {"feasible": True, "lead_time_min": lead, "ignition_time": clock(target_min - lead), "indoor_at_ignition_c": round(indoor, 1), "indoor_estimated": estimated, **base, "model_file": os.environ["WATT_BENCH_MODEL"], "model_origin": "shipped"}


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False, loop="uvloop", http="httptools")
