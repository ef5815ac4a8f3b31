#!/usr/bin/env node
// A scripted SMSC for tests, on the npm `smpp` package: written independently of our client
// (smpp34), so the two never share a codec.
//
//   node tests/fakes/smsc/smsc.js '<scenario JSON>'
//
// It listens on 127.0.0.1 (port 0 unless the scenario names one), prints one line
// {"event": "listening", "port": N} on stdout, then one JSON line per thing it saw or did
// (bind, submit_sm with its raw fields, deliver_sm_resp, unbind, enquire_link, drop …).
// Commands come as JSON lines on stdin: {"cmd": "mo", …}, {"cmd": "receipt", …},
// {"cmd": "drop"}, {"cmd": "stop"}.
//
// short_message and message_payload stay raw bytes both ways (the package's text filter
// is switched off), so the test decides every octet and sees every octet.
//
// Scenario (every key optional):
//   system_id, password      credentials a bind must carry (default "esme" / "secret")
//   refuse_bind              true: every bind gets ESME_RBINDFAIL
//   throttle                 N: the first N submit_sm get ESME_RTHROTTLED
//   queue_full               N: the next N submit_sm get ESME_RMSGQFUL
//   reject                   {"<destination_addr>": command_status}: permanent refusals
//   resp_delay_ms            delay before each submit_sm_resp
//   drop_after               N: on the Nth submit_sm (counted over the server's life) the
//                            connection is destroyed without answering it or the ones in
//                            flight (only once)
//   id_base                  first message id number (default 0x10000); ids are hex text
//   quiet                    true: no line per PDU (benchmarks); {"cmd": "stats"} prints counters
//   receipts                 {"mode": "text"|"tlv"|"none", "delay_ms": 0, "stat": "DELIVRD",
//                             "err": "000", "per_dest": {"<dest>": "UNDELIV"},
//                             "before_resp": false, "id_form": "hex"|"dec",
//                             "per_part": {"2": "UNDELIV"}}
'use strict';

const smpp = require('smpp');
const defs = require('smpp/lib/defs');

// Raw bytes, both ways: the scripted side must not re-encode what it is given or received.
defs.filters.message.decode = function (value) {
	return value;
};

const scenario = JSON.parse(process.argv[2] || '{}');
const receipts = Object.assign({mode: 'text', delay_ms: 0, stat: 'DELIVRD', err: '000', per_dest: {},
	before_resp: false, id_form: 'hex', per_part: {}}, scenario.receipts || {});
const STAT_STATE = {ENROUTE: 1, DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8};

let nextId = scenario.id_base || 0x10000;
let submits = 0;
let throttleLeft = scenario.throttle || 0;
let queueFullLeft = scenario.queue_full || 0;
let dropped = false;
let sessionSeq = 0;
const sessions = new Map();

const stats = {submits: 0, accepted: 0, duplicates: 0, receipts: 0, receipt_acks: 0, binds: 0};
const acceptedKeys = new Set();
const LOUD = new Set(['listening', 'stats', 'bind', 'drop', 'closed']);

function emit(obj) {
	if (obj.event === 'bind' && obj.ok) stats.binds += 1;
	if (obj.event === 'submit_sm_resp' && obj.status === 0) {
		stats.accepted += 1;
		const key = obj.destination_addr + '/' + obj.part;
		if (acceptedKeys.has(key)) stats.duplicates += 1;
		acceptedKeys.add(key);
	}
	if (obj.event === 'receipt_sent') stats.receipts += 1;
	if (obj.event === 'deliver_sm_resp' && obj.kind === 'receipt') stats.receipt_acks += 1;
	if (scenario.quiet && !LOUD.has(obj.event)) return;
	process.stdout.write(JSON.stringify(obj) + '\n');
}

function hex(buf) {
	return buf ? Buffer.from(buf).toString('hex') : null;
}

function tlvsOf(pdu) {
	const out = {};
	for (const name of ['sar_msg_ref_num', 'sar_total_segments', 'sar_segment_seqnum', 'message_payload',
		'receipted_message_id', 'message_state', 'user_message_reference']) {
		if (pdu[name] !== undefined) {
			out[name] = Buffer.isBuffer(pdu[name]) ? {hex: hex(pdu[name])} : pdu[name];
		}
	}
	// TLVs the library does not name (vendor tags such as DLT ids) are kept under their number.
	for (const key of Object.keys(pdu)) {
		if (/^\d+$/.test(key)) {
			out['0x' + Number(key).toString(16).toUpperCase().padStart(4, '0')] = {hex: hex(pdu[key])};
		}
	}
	return out;
}

function pad(n, width) {
	return String(n).padStart(width, '0');
}

function smppDate(d) {
	return pad(d.getUTCFullYear() % 100, 2) + pad(d.getUTCMonth() + 1, 2) + pad(d.getUTCDate(), 2) +
		pad(d.getUTCHours(), 2) + pad(d.getUTCMinutes(), 2);
}

function receiptFor(session, submit, messageId, part) {
	const stat = receipts.per_part[String(part)] || receipts.per_dest[submit.destination_addr] || receipts.stat;
	const reportedId = receipts.id_form === 'dec' ? String(parseInt(messageId, 16)) : messageId;
	const now = new Date();
	const options = {
		source_addr: submit.destination_addr,
		source_addr_ton: submit.dest_addr_ton,
		source_addr_npi: submit.dest_addr_npi,
		destination_addr: submit.source_addr,
		esm_class: 0x04,
	};
	if (receipts.mode === 'tlv') {
		options.receipted_message_id = reportedId;
		options.message_state = STAT_STATE[stat] || 7;
		options.short_message = Buffer.alloc(0);
	} else {
		const delivered = stat === 'DELIVRD' ? '001' : '000';
		const text = 'id:' + reportedId + ' sub:001 dlvrd:' + delivered + ' submit date:' + smppDate(now) +
			' done date:' + smppDate(now) + ' stat:' + stat + ' err:' + receipts.err + ' text:' +
			Buffer.from(submit.short_message || Buffer.alloc(0)).slice(0, 20).toString('latin1').replace(/[^ -~]/g, '.');
		options.short_message = Buffer.from(text, 'latin1');
	}
	const target = receiverFor(session);
	if (!target) {
		emit({event: 'receipt_undeliverable', message_id: messageId});
		return;
	}
	target.deliver_sm(options, function (resp) {
		emit({event: 'deliver_sm_resp', kind: 'receipt', message_id: messageId, reported_id: reportedId,
			stat: stat, command_status: resp.command_status});
	});
	emit({event: 'receipt_sent', message_id: messageId, reported_id: reportedId, stat: stat, mode: receipts.mode});
}

// A receipt goes back on the same session when it can receive, else on any receiver session
// of the same system_id (transmitter + receiver binds).
function receiverFor(session) {
	if (session.canReceive && !session.closed) {
		return session;
	}
	for (const other of sessions.values()) {
		if (other.canReceive && !other.closed && other.systemId === session.systemId) {
			return other;
		}
	}
	return null;
}

function anyReceiver() {
	for (const other of sessions.values()) {
		if (other.canReceive && !other.closed) {
			return other;
		}
	}
	return null;
}

function partOf(pdu) {
	if (pdu.sar_segment_seqnum !== undefined) {
		return pdu.sar_segment_seqnum;
	}
	const sm = pdu.short_message;
	if ((pdu.esm_class & 0x40) && Buffer.isBuffer(sm) && sm.length > 5) {
		if (sm[1] === 0x00) return sm[5];
		if (sm[1] === 0x08) return sm[6];
	}
	return 1;
}

const server = smpp.createServer(function (session) {
	const id = ++sessionSeq;
	session.sid = id;
	session.canReceive = false;
	session.closed = false;
	sessions.set(id, session);

	function bind(kind, canReceive) {
		session.on(kind, function (pdu) {
			const ok = !scenario.refuse_bind && pdu.system_id === (scenario.system_id || 'esme') &&
				pdu.password === (scenario.password || 'secret');
			emit({event: 'bind', kind: kind, session: id, system_id: pdu.system_id, system_type: pdu.system_type,
				ok: ok});
			if (!ok) {
				session.send(pdu.response({command_status: defs.errors.ESME_RBINDFAIL}));
				setTimeout(function () { session.close(); }, 50);
				return;
			}
			session.systemId = pdu.system_id;
			session.canReceive = canReceive;
			session.send(pdu.response({system_id: 'fakesmsc'}));
		});
	}
	bind('bind_transceiver', true);
	bind('bind_transmitter', false);
	bind('bind_receiver', true);

	session.on('enquire_link', function (pdu) {
		emit({event: 'enquire_link', session: id});
		session.send(pdu.response());
	});
	session.on('unbind', function (pdu) {
		emit({event: 'unbind', session: id});
		session.send(pdu.response());
		setTimeout(function () { session.close(); }, 20);
	});
	session.on('submit_sm', function (pdu) {
		submits += 1;
		stats.submits = submits;
		const record = {
			event: 'submit_sm', session: id, n: submits, sequence_number: pdu.sequence_number,
			source_addr: pdu.source_addr, source_addr_ton: pdu.source_addr_ton, source_addr_npi: pdu.source_addr_npi,
			destination_addr: pdu.destination_addr, dest_addr_ton: pdu.dest_addr_ton, dest_addr_npi: pdu.dest_addr_npi,
			esm_class: pdu.esm_class, data_coding: pdu.data_coding, registered_delivery: pdu.registered_delivery,
			short_message: hex(pdu.short_message), tlvs: tlvsOf(pdu), part: partOf(pdu),
		};
		if (scenario.drop_after && !dropped && submits >= scenario.drop_after) {
			dropped = true;
			record.status = 'dropped';
			emit(record);
			emit({event: 'drop', session: id});
			session.destroy();
			return;
		}
		let status = 0;
		if (throttleLeft > 0) {
			throttleLeft -= 1;
			status = defs.errors.ESME_RTHROTTLED;
		} else if (queueFullLeft > 0) {
			queueFullLeft -= 1;
			status = defs.errors.ESME_RMSGQFUL;
		} else if (scenario.reject && scenario.reject[pdu.destination_addr] !== undefined) {
			status = scenario.reject[pdu.destination_addr];
		}
		record.status = status;
		const n = submits;
		let messageId = '';
		if (status === 0) {
			messageId = (nextId++).toString(16).toUpperCase();
			record.message_id = messageId;
		}
		emit(record);
		const wantsReceipt = status === 0 && (pdu.registered_delivery & 0x01) && receipts.mode !== 'none';
		const answer = function () {
			const what = {session: id, n: n, destination_addr: pdu.destination_addr, part: record.part,
				status: status, message_id: messageId};
			if (session.closed) {
				// Accepted here but the ESME never hears of it: the one case SMPP can duplicate.
				emit(Object.assign({event: 'resp_lost'}, what));
				return;
			}
			session.send(pdu.response(status === 0 ? {message_id: messageId} : {command_status: status}));
			emit(Object.assign({event: 'submit_sm_resp'}, what));
		};
		if (wantsReceipt && receipts.before_resp) {
			// The receipt overtakes the response: sent first, the response only after it.
			receiptFor(session, pdu, messageId, record.part);
			setTimeout(answer, Math.max(scenario.resp_delay_ms || 0, 100));
			return;
		}
		if (scenario.resp_delay_ms) {
			setTimeout(answer, scenario.resp_delay_ms);
		} else {
			answer();
		}
		if (wantsReceipt) {
			setTimeout(function () { receiptFor(session, pdu, messageId, record.part); }, receipts.delay_ms);
		}
	});
	session.on('close', function () {
		session.closed = true;
		sessions.delete(id);
		emit({event: 'closed', session: id});
	});
	session.on('error', function (err) {
		emit({event: 'session_error', session: id, error: String(err && err.message)});
	});
});

function handle(command) {
	if (command.cmd === 'mo') {
		const target = anyReceiver();
		if (!target) {
			emit({event: 'mo_undeliverable', tag: command.tag});
			return;
		}
		const options = {
			source_addr: command.source_addr, source_addr_ton: 1, source_addr_npi: 1,
			destination_addr: command.destination_addr, dest_addr_ton: 1, dest_addr_npi: 1,
			esm_class: command.esm_class || 0, data_coding: command.data_coding || 0,
			short_message: Buffer.from(command.short_message_hex || '', 'hex'),
		};
		for (const name of ['sar_msg_ref_num', 'sar_total_segments', 'sar_segment_seqnum']) {
			if (command[name] !== undefined) options[name] = command[name];
		}
		if (command.message_payload_hex !== undefined) {
			options.message_payload = Buffer.from(command.message_payload_hex, 'hex');
		}
		target.deliver_sm(options, function (resp) {
			emit({event: 'deliver_sm_resp', kind: 'mo', tag: command.tag, command_status: resp.command_status});
		});
	} else if (command.cmd === 'stats') {
		emit(Object.assign({event: 'stats'}, stats));
	} else if (command.cmd === 'drop') {
		for (const s of sessions.values()) s.destroy();
		emit({event: 'dropped_all'});
	} else if (command.cmd === 'stop') {
		for (const s of sessions.values()) s.destroy();
		server.close();
		process.exit(0);
	}
}

let buffered = '';
process.stdin.on('data', function (chunk) {
	buffered += chunk.toString();
	let newline;
	while ((newline = buffered.indexOf('\n')) >= 0) {
		const line = buffered.slice(0, newline).trim();
		buffered = buffered.slice(newline + 1);
		if (line) handle(JSON.parse(line));
	}
});
// The test runner going away (stdin closed) ends the fake too: no orphan SMSC.
process.stdin.on('end', function () { process.exit(0); });

server.listen(scenario.port || 0, '127.0.0.1', function () {
	emit({event: 'listening', port: server.address().port});
});
