// kpl-deagg.js: de-aggregate Kinesis records with the aws-kinesis-agg npm
// package, an implementation independent of ours (sink/kpl), to check that
// what the sink writes is readable by the consumers' libraries.
//
// Reads a JSON array of Kinesis records on stdin:
//   [{"partitionKey": "...", "sequenceNumber": "...", "data": "<base64>"}, ...]
// and writes a JSON array of the user records, in order:
//   [{"partitionKey", "explicitPartitionKey", "sequenceNumber", "subSequenceNumber", "data"}, ...]
// with checksums verified. Any error exits non-zero.
//
// aws-kinesis-agg is installed under .cache/aws-kinesis-agg by `make test-tools`;
// run with NODE_PATH=.cache/aws-kinesis-agg/node_modules.
'use strict';
const agg = require('aws-kinesis-agg');

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', () => {
	const records = JSON.parse(input);
	const out = [];
	for (const r of records) {
		agg.deaggregateSync(r, true, (err, users) => {
			if (err) {
				console.error('deaggregate ' + r.sequenceNumber + ': ' + err);
				process.exit(1);
			}
			for (const u of users) {
				out.push({
					partitionKey: u.partitionKey,
					explicitPartitionKey: u.explicitPartitionKey === undefined ? '' : String(u.explicitPartitionKey),
					sequenceNumber: u.sequenceNumber,
					subSequenceNumber: u.subSequenceNumber === undefined ? -1 : Number(u.subSequenceNumber),
					data: u.data,
				});
			}
		});
	}
	process.stdout.write(JSON.stringify(out));
});
