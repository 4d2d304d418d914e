// SPDX-License-Identifier: Apache-2.0
//
// Checks chv-httpd's answers against Cloud Hypervisor's OpenAPI document (cloud-hypervisor.yaml beside
// this file) with openapi-backend. One answer per line on standard input:
//   {"method": "get", "path": "/vm.info", "status": 200, "body": "<the body as sent>"}
// one verdict per line on standard output: {"ok": true} or {"ok": false, "errors": [...]}.
//
// Success answers are checked against the schema the document gives for that path and status. Errors
// have no schema there; Cloud Hypervisor's server sends a JSON array of strings (or, for a method it
// does not know, nothing), and that is what is checked.
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');
const yaml = require('js-yaml');
const { OpenAPIBackend } = require('openapi-backend');

// Where Cloud Hypervisor's server and its document differ, the server wins (as chv-httpd follows it).
const SERVER_ONLY = {
    // vmm.shutdown: the document says 204, the server answers 200 without a body.
    'put /vmm.shutdown 200': 'empty',
};

function loadDocument() {
    const doc = yaml.load(fs.readFileSync(path.join(__dirname, 'cloud-hypervisor.yaml'), 'utf8'));
    // openapi-backend finds operations by operationId; a few of the document's have none.
    for (const [p, item] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(item)) {
            if (!op.operationId)
                op.operationId = method + p.replace(/[^A-Za-z0-9]/g, '_');
        }
    }
    return doc;
}

function check(api, doc, answer) {
    const errors = [];
    const method = answer.method.toLowerCase();
    const status = answer.status;
    const body = answer.body || '';
    const item = doc.paths[answer.path];
    const op = item && item[method];

    if (status >= 400) {
        if (body === '')
            return errors;
        let v;
        try {
            v = JSON.parse(body);
        } catch (e) {
            return ['error body is not JSON: ' + e.message];
        }
        if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string'))
            errors.push('error body is not a non-empty JSON array of strings');
        return errors;
    }
    if (!op)
        return [`${method.toUpperCase()} ${answer.path} answered ${status}, but the document has no such operation`];
    const special = SERVER_ONLY[`${method} ${answer.path} ${status}`];
    const documented = op.responses && (op.responses[String(status)] || op.responses[status]);
    if (!documented && !special)
        return [`${method.toUpperCase()} ${answer.path}: status ${status} is not in the document`];
    const content = documented && documented.content && documented.content['application/json'];
    if (special === 'empty' || !content) {
        if (body !== '')
            errors.push(`status ${status} of ${answer.path} has no content in the document, but a body came`);
        return errors;
    }
    let value;
    try {
        value = JSON.parse(body);
    } catch (e) {
        return ['body is not JSON: ' + e.message];
    }
    const operation = api.router.getOperation(op.operationId);
    const result = api.validateResponse(value, operation, status);
    if (!result.valid)
        for (const e of result.errors)
            errors.push(`${e.instancePath || '(body)'} ${e.message}` +
                        (e.params && Object.keys(e.params).length ? ' ' + JSON.stringify(e.params) : ''));
    return errors;
}

async function main() {
    const doc = loadDocument();
    const api = new OpenAPIBackend({
        definition: JSON.parse(JSON.stringify(doc)),
        quick: false,
        validate: true,
        ajvOpts: { logger: false },
    });
    await api.init();
    const rl = readline.createInterface({ input: process.stdin, terminal: false });
    for await (const line of rl) {
        if (!line.trim())
            continue;
        let verdict;
        try {
            const errors = check(api, doc, JSON.parse(line));
            verdict = errors.length ? { ok: false, errors } : { ok: true };
        } catch (e) {
            verdict = { ok: false, errors: ['validator failed: ' + e.message] };
        }
        process.stdout.write(JSON.stringify(verdict) + '\n');
    }
}

main().catch((e) => {
    process.stderr.write('validate.js: ' + (e.stack || e) + '\n');
    process.exit(2);
});
