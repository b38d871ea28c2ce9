"""Signatures: the fakes' doc-derived verifiers against the docs' published examples, and the
channels' signing against those verifiers (tables and property-based)."""
from __future__ import annotations

import string

import pytest
from hypothesis import given, settings, strategies as st

from alerts.channels.aliyun_sms import rpc_signature
from alerts.channels.tencent_sms import tc3_authorization

from . import fake_aliyun, fake_tencent


def test_aliyun_doc_example_known_answer():
    """The Alibaba Cloud SMS doc's worked SendSms example (testId / testSecret, GET) signs to
    the published zJDF+Lrzhj/ThnlvIToysFRq6t4= with the fake's verifier and the channel's."""
    ex = fake_aliyun.DOC_EXAMPLE
    assert fake_aliyun.doc_signature(ex["params"], ex["secret"], ex["method"]) == \
        "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert rpc_signature(ex["secret"], ex["method"], ex["params"]) == ex["signature"]


def test_tencent_doc_example_known_answer():
    """TencentCloud API 3.0 Signature v3's worked example (DescribeInstances, timestamp
    1551113065 = 2019-02-25 22:44:25 UTC, so the scope date is 2019-02-25): the published
    payload hash, canonical-request hash and signature."""
    ex = fake_tencent.DOC_EXAMPLE
    payload = ex["payload"].encode()
    canonical = fake_tencent.canonical_request("POST", ex["headers"], ex["signed_headers"],
                                               payload)
    assert fake_tencent._h(payload) == ex["payload_hash"]
    assert fake_tencent._h(canonical) == ex["canonical_hash"]
    assert fake_tencent.doc_signature(ex["secret_key"], ex["timestamp"], ex["service"],
                                      canonical) == ex["signature"]
    auth = tc3_authorization("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", ex["secret_key"],
                             host="cvm.tencentcloudapi.com", payload=payload,
                             timestamp=ex["timestamp"], service="cvm")
    assert auth == ("TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/"
                    "2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, "
                    "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168")


@pytest.mark.parametrize("value", [
    "a b", "a*b", "a~b", "a+b", "阿里云", "{\"k\":\"v\"}", "100%", "x/y=z&w", "",
], ids=["space", "star", "tilde", "plus", "chinese", "json", "percent", "reserved", "empty"])
def test_aliyun_encoding_edges_match_the_doc(value):
    """The characters the doc singles out (space -> %20, * -> %2A, ~ kept) and others."""
    params = dict(fake_aliyun.DOC_EXAMPLE["params"], TemplateParam=value)
    assert rpc_signature("s3cr3t", "POST", params) == \
        fake_aliyun.doc_signature(params, "s3cr3t", "POST")


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(params=st.dictionaries(st.text(string.ascii_letters, min_size=1, max_size=12), _text,
                              max_size=8),
       secret=st.text(string.ascii_letters + string.digits, min_size=1, max_size=30),
       method=st.sampled_from(["GET", "POST"]))
def test_aliyun_signing_agrees_with_the_doc_derivation(params, secret, method):
    assert rpc_signature(secret, method, params) == \
        fake_aliyun.doc_signature(params, secret, method)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(payload=st.binary(max_size=300), secret=st.text(string.ascii_letters, min_size=1),
       ts=st.integers(min_value=0, max_value=4_102_444_800),
       host=st.sampled_from(["sms.tencentcloudapi.com", "127.0.0.1:8080"]))
def test_tencent_signing_agrees_with_the_doc_derivation(payload, secret, ts, host):
    auth = tc3_authorization("AKIDX", secret, host=host, payload=payload, timestamp=ts)
    headers = {"content-type": "application/json; charset=utf-8", "host": host}
    canonical = fake_tencent.canonical_request("POST", headers, "content-type;host", payload)
    assert auth.endswith("Signature=" + fake_tencent.doc_signature(secret, ts, "sms",
                                                                   canonical))
