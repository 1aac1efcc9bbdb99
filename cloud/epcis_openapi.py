"""The OpenAPI 3.0 description of OneCode's EPCIS 2.0 interface (GET /epcis/openapi.json).

Built from the same tables the query code uses (cloud.epcis_query), so a parameter
cannot be supported without being documented. Must never describe an endpoint the
blueprint does not serve: tests compare both.
"""
from cloud import epcis_query
from cloud.epcis_capture import BEHAVIOURS, MAX_BYTES, MAX_EVENTS

PROBLEM = {"description": "RFC 7807 problem (type epcisException:...)",
           "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
QUERY_DOC = {"description": "EPCISQueryDocument; a `Link: <...>; rel=\"next\"` header when there are more",
             "content": {"application/ld+json": {"schema": {"type": "object"}}}}

_TIME_PARAMS = ("GE_eventTime", "LT_eventTime", "GE_recordTime", "LT_recordTime")


def _param(name, description, schema=None, where="query"):
    return {"name": name, "in": where, "required": where == "path", "description": description,
            "schema": schema or {"type": "string"}}


def query_parameters():
    params = []
    for name in sorted(epcis_query.EQ_COLUMNS):
        params.append(_param(name, "exact match; repeat the parameter or separate values with |"))
    for name in _TIME_PARAMS:
        params.append(_param(name, "ISO 8601 date-time with a zone", {"type": "string", "format": "date-time"}))
    for name, roles in sorted(epcis_query.MATCH_ROLES.items()):
        params.append(_param(name, "EPC URN or GS1 Digital Link (either form matches both); "
                             "urn:epc:idpat:sgtin:CP.REF.* matches every serial; searches: %s" % ", ".join(roles)))
    params += [
        _param("orderBy", "eventTime (default) or recordTime", {"type": "string", "enum": ["eventTime", "recordTime"]}),
        _param("orderDirection", "ASC (default) or DESC", {"type": "string", "enum": ["ASC", "DESC"]}),
        _param("perPage", "1..%d (default %d)" % (epcis_query.MAX_PER_PAGE, epcis_query.DEFAULT_PER_PAGE),
               {"type": "integer", "minimum": 1, "maximum": epcis_query.MAX_PER_PAGE}),
        _param("nextPageToken", "from the Link header of the previous page"),
    ]
    return params


EPC_FORMAT = {"name": "GS1-EPC-Format", "in": "header", "required": False, "schema": {
    "type": "string", "enum": ["No_Preference", "Always_GS1_Digital_Link", "Always_EPC_URN", "Never_Translates"]},
    "description": "Always_GS1_Digital_Link converts EPC URNs in results; identifiers captured as "
                   "Digital Links are returned as captured (a URN needs the company prefix length)"}


def document():
    return {
        "openapi": "3.0.3",
        "info": {"title": "OneCode EPCIS 2.0 interface", "version": "2.0.0",
                 "description": "Capture and query of GS1 EPCIS 2.0 events (JSON/JSON-LD). "
                                "Events without an eventID get the CBV 2.0 event hash ID."},
        "paths": {
            "/epcis/capture": {
                "options": {"summary": "capture settings", "responses": {"204": {
                    "description": "GS1-EPCIS-Capture-Limit %d events, GS1-EPCIS-Capture-File-Size-Limit %d bytes"
                                   % (MAX_EVENTS, MAX_BYTES)}}},
                "post": {"summary": "capture an EPCISDocument as one job",
                         "parameters": [{"name": "GS1-Capture-Error-Behaviour", "in": "header", "required": False,
                                         "schema": {"type": "string", "enum": list(BEHAVIOURS)}}],
                         "requestBody": {"required": True, "content": {"application/ld+json": {"schema": {
                             "type": "object"}}, "application/json": {"schema": {"type": "object"}}}},
                         "responses": {"202": {"description": "job created; Location: /epcis/capture/{captureID}"},
                                       "400": PROBLEM, "413": PROBLEM}}},
            "/epcis/capture/{captureID}": {
                "get": {"summary": "a capture job", "parameters": [_param("captureID", "job id", where="path")],
                        "responses": {"200": {"description": "captureID, createdAt, finishedAt, running, success, "
                                                             "captureErrorBehaviour, errors"}, "404": PROBLEM}}},
            "/epcis/events": {
                "get": {"summary": "SimpleEventQuery", "parameters": query_parameters() + [EPC_FORMAT],
                        "responses": {"200": QUERY_DOC, "400": PROBLEM}},
                "post": {"summary": "capture one event", "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"type": "object"}}}},
                         "responses": {"201": {"description": "Location: /epcis/events/{eventID}"},
                                       "400": PROBLEM, "409": PROBLEM}}},
            "/epcis/events/{eventID}": {
                "get": {"summary": "one event", "parameters": [_param("eventID", "URL-encoded", where="path"),
                                                               EPC_FORMAT],
                        "responses": {"200": {"description": "the event with its @context"}, "404": PROBLEM}}},
            "/epcis/epcs/{epc}/events": {
                "get": {"summary": "events naming this EPC anywhere (MATCH_anyEPC)",
                        "parameters": [_param("epc", "URL-encoded EPC URN or Digital Link", where="path")]
                        + [p for p in query_parameters() if p["name"] != "MATCH_anyEPC"] + [EPC_FORMAT],
                        "responses": {"200": QUERY_DOC, "400": PROBLEM}}},
            "/epcis/openapi.json": {"get": {"summary": "this document", "responses": {"200": {
                "description": "OpenAPI 3.0"}}}},
        },
        "components": {"schemas": {"Problem": {"type": "object", "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"}}}}},
    }
