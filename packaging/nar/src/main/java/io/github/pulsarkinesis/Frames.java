package io.github.pulsarkinesis;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * The sidecar protocol's frames (docs/sidecar-protocol.md in the repository):
 * [u32 length of what follows][u8 type][body], big-endian; strings and byte
 * arrays as [u32 length][bytes], maps as [u32 count][key][value]...
 */
final class Frames {
    static final int VERSION = 3;

    static final byte HELLO = 0x01;
    static final byte SCHEMA = 0x02;
    static final byte RECORD = 0x03;
    static final byte PUBLISHED = 0x04;
    static final byte CLOSE = 0x05;
    static final byte UNREADABLE = 0x06;

    static final byte READY = (byte) 0x81;
    static final byte OPEN_FAILED = (byte) 0x82;
    static final byte ACK = (byte) 0x83;
    static final byte FAIL = (byte) 0x84;
    static final byte PUBLISH = (byte) 0x85;
    static final byte FATAL = (byte) 0x86;
    static final byte CLOSED = (byte) 0x87;
    static final byte METRIC = (byte) 0x88;
    static final byte HEARTBEAT = (byte) 0x89;

    static final int FLAG_HAS_KEY = 1;
    static final int FLAG_HAS_EVENT_TIME = 2;
    static final int FLAG_CHUNKED = 4;
    static final int FLAG_ENCRYPTED = 8;

    private static final int MAX_FRAME = 256 << 20;

    private Frames() {}

    /** HELLO: the instance the child runs as, and the window it may count on. */
    static Builder hello(String configJson, Map<String, String> secrets, String tenant, String namespace, String name,
            int instanceId, int parallelism, int windowRecords, long windowBytes) {
        return new Builder(HELLO, 512 + configJson.length())
                .u32(VERSION)
                .str(configJson)
                .strMap(secrets)
                .str(tenant)
                .str(namespace)
                .str(name)
                .u32(instanceId)
                .u32(parallelism)
                .str("") // the cluster: the child needs none
                .u32(windowRecords)
                .u64(windowBytes)
                .finish();
    }

    static Builder schema(int id, String type, String name, byte[] data, Map<String, String> properties, byte[] version) {
        return new Builder(SCHEMA, data.length + 128)
                .u32(id)
                .str(type)
                .str(name)
                .bytes(data)
                .strMap(properties)
                .bytes(version)
                .finish();
    }

    /**
     * A RECORD (or UNREADABLE) frame, unfinished (UNREADABLE's reason follows), its sequence 0 until the
     * record has its place in the window (see KinesisGoSink.SEQ_OFFSET). A RECORD's payload is not copied
     * into the frame but written after it, so it must end the frame.
     */
    static Builder record(byte type, int schemaId, String topic, boolean hasKey, String key, Map<String, String> props,
            long eventTime, long publishTime, KinesisGoSink.IdParts id, int redeliveries, byte[] version, Encryption enc,
            byte[] payload) {
        int flags = (hasKey ? FLAG_HAS_KEY : 0) | (eventTime > 0 ? FLAG_HAS_EVENT_TIME : 0) | (id.chunked() ? FLAG_CHUNKED : 0)
                | (enc != null ? FLAG_ENCRYPTED : 0);
        Builder b = new Builder(type, 256 + (type == RECORD || payload == null ? 0 : payload.length))
                .u64(0)
                .u32(schemaId)
                .str(topic)
                .u8(flags)
                .str(key)
                .strMap(props)
                .u64(eventTime)
                .u64(publishTime)
                .u64(id.ledger()).u64(id.entry()).u32(id.partition()).u32(id.batch())
                .u32(redeliveries)
                .bytes(version);
        if (enc != null) {
            b.u32(enc.keys().size());
            for (Map.Entry<String, Encryption.Key> k : enc.keys().entrySet()) {
                b.str(k.getKey()).bytes(k.getValue().value()).strMap(k.getValue().metadata());
            }
            b.bytes(enc.param()).str(enc.algorithm()).str(enc.compressionType()).u32(enc.uncompressedSize()).u32(enc.batchSize());
        }
        // UNREADABLE has its reason after the payload, so only RECORD can end with it uncopied.
        return type == RECORD ? b.lastBytes(payload) : b.bytes(payload);
    }

    /**
     * A payload Pulsar delivered still encrypted (the consumer's crypto failure action CONSUME) and how: the
     * message's EncryptionContext, which the JSON and FlatBuffers formats write. batchSize is -1 when the message
     * was not a batch.
     */
    record Encryption(Map<String, Key> keys, byte[] param, String algorithm, String compressionType, int uncompressedSize,
            int batchSize) {
        record Key(byte[] value, Map<String, String> metadata) {}
    }

    static Builder published(long requestId, String error) {
        return new Builder(PUBLISHED, 64).u64(requestId).str(error).finish();
    }

    static Builder close(long timeoutMs) {
        return new Builder(CLOSE, 8).u32(timeoutMs).finish();
    }

    /** Builds one frame; {@link #finish} gives the bytes to write. */
    static final class Builder extends ByteArrayOutputStream {
        /** The last field's bytes, written after the buffer rather than copied into it. */
        private byte[] tail;

        Builder(byte type, int sizeHint) {
            super(Math.max(64, sizeHint + 5));
            write(new byte[4], 0, 4);
            write(type);
        }

        Builder u8(int v) {
            write(v);
            return this;
        }

        Builder u32(long v) {
            write((int) (v >>> 24));
            write((int) (v >>> 16));
            write((int) (v >>> 8));
            write((int) v);
            return this;
        }

        Builder u64(long v) {
            u32(v >>> 32);
            return u32(v & 0xffffffffL);
        }

        Builder bytes(byte[] b) {
            if (b == null) {
                return u32(0);
            }
            u32(b.length);
            write(b, 0, b.length);
            return this;
        }

        Builder str(String s) {
            return bytes(s == null ? null : s.getBytes(StandardCharsets.UTF_8));
        }

        Builder strMap(Map<String, String> m) {
            if (m == null) {
                return u32(0);
            }
            u32(m.size());
            for (Map.Entry<String, String> e : m.entrySet()) {
                str(e.getKey());
                str(e.getValue());
            }
            return this;
        }

        /**
         * Ends the frame with a bytes field that is not copied: a record's
         * payload (up to the broker's message size, chunked ones larger) would
         * otherwise exist twice per write, once from getData() and once in the
         * frame.
         */
        Builder lastBytes(byte[] b) {
            if (b == null || b.length == 0) {
                return u32(0);
            }
            u32(b.length);
            tail = b;
            return this;
        }

        /** Sets the frame's length; then write it with {@link #writeFrame}. */
        Builder finish() {
            long n = length() - 4;
            buf[0] = (byte) (n >>> 24);
            buf[1] = (byte) (n >>> 16);
            buf[2] = (byte) (n >>> 8);
            buf[3] = (byte) n;
            return this;
        }

        /** The whole frame's length in bytes, length prefix included. */
        long length() {
            return count + (tail == null ? 0 : tail.length);
        }

        /** Overwrites a u64 at a position in the frame (a RECORD's sequence, known only once the window has room). */
        void putU64(int at, long v) {
            for (int i = 0; i < 8; i++) {
                buf[at + i] = (byte) (v >>> (56 - 8 * i));
            }
        }

        void writeFrame(java.io.OutputStream out) throws IOException {
            out.write(buf, 0, count);
            if (tail != null) {
                // A BufferedOutputStream passes a write larger than its buffer straight through.
                out.write(tail);
            }
        }
    }

    /** One frame read from the child: its type and body. */
    static final class Frame {
        final byte type;
        private final ByteBuffer body;

        Frame(byte type, byte[] body) {
            this.type = type;
            this.body = ByteBuffer.wrap(body);
        }

        /** Reads the next frame; null at a clean end of stream. */
        static Frame read(DataInputStream in) throws IOException {
            int n;
            try {
                n = in.readInt();
            } catch (EOFException e) {
                return null;
            }
            if (n < 1 || n > MAX_FRAME) {
                throw new IOException("frame length " + n + " from kinesis-sink: allowed 1 to " + MAX_FRAME);
            }
            byte type = in.readByte();
            byte[] body = new byte[n - 1];
            in.readFully(body);
            return new Frame(type, body);
        }

        int u32() {
            return body.getInt();
        }

        /** Bytes of the body not read yet: a frame is read exactly, to its end. */
        int remaining() {
            return body.remaining();
        }

        long u64() {
            return body.getLong();
        }

        double f64() {
            return body.getDouble();
        }

        byte[] bytes() {
            int n = body.getInt();
            byte[] b = new byte[n];
            body.get(b);
            return b;
        }

        String str() {
            return new String(bytes(), StandardCharsets.UTF_8);
        }

        Map<String, String> strMap() {
            int n = body.getInt();
            Map<String, String> m = new HashMap<>(Math.max(4, n * 2));
            for (int i = 0; i < n; i++) {
                String k = str();
                m.put(k, str());
            }
            return m;
        }
    }
}
