package io.github.pulsarkinesis;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A stand-in for kinesis-sink's sidecar in KinesisGoSinkTest: it speaks the protocol's frames on stdin and
 * stdout and misbehaves as its first argument says; what it saw goes to the file its second argument names.
 */
public final class FakeChild {
    private FakeChild() {}

    public static void main(String[] args) throws Exception {
        String scenario = args[0];
        Path report = Path.of(args[1]);
        DataInputStream in = new DataInputStream(new BufferedInputStream(System.in));
        OutputStream out = new BufferedOutputStream(new FileOutputStream(FileDescriptor.out));
        Frames.Frame hello = Frames.Frame.read(in);
        if (hello == null || hello.type != Frames.HELLO) {
            throw new IOException("first frame is not HELLO");
        }
        Files.writeString(report, "hello version " + hello.u32() + "\n");
        switch (scenario) {
            case "hang-before-ready" -> Thread.sleep(Long.MAX_VALUE);
            case "crash-mid-frame" -> {
                ready(out);
                out.write(new byte[] {0, 0, 0, 50, Frames.ACK, 1, 2});
                out.flush();
                System.exit(1);
            }
            case "hang-after-ready" -> {
                ready(out);
                Thread.sleep(Long.MAX_VALUE);
            }
            case "stderr-flood" -> {
                // 20 MB of log lines before READY: a Java side that did not drain stderr would never see READY.
                PrintStream err = new PrintStream(new FileOutputStream(FileDescriptor.err), false, StandardCharsets.UTF_8);
                String line = "x".repeat(99);
                for (int i = 0; i < 200_000; i++) {
                    err.println(line);
                }
                err.flush();
                ready(out);
                untilClose(in, out);
            }
            case "dead-letter" -> {
                ready(out);
                StringBuilder sb = new StringBuilder();
                for (long id = 1; id <= 2; id++) {
                    new Frames.Builder(Frames.PUBLISH, 64).u64(id).str("persistent://public/default/dlq").str("k")
                            .strMap(Map.of("error", "test")).bytes(new byte[] {1}).finish().writeFrame(out);
                    out.flush();
                    for (Frames.Frame f; (f = Frames.Frame.read(in)) != null; ) {
                        if (f.type == Frames.PUBLISHED) {
                            sb.append("published ").append(f.u64()).append(": ").append(f.str()).append('\n');
                            break;
                        }
                    }
                }
                Files.writeString(report, sb.toString(), java.nio.file.StandardOpenOption.APPEND);
                untilClose(in, out);
            }
            default -> throw new IllegalArgumentException("scenario " + scenario);
        }
    }

    private static void ready(OutputStream out) throws IOException {
        new Frames.Builder(Frames.READY, 8).u32(Frames.VERSION).finish().writeFrame(out);
        out.flush();
    }

    private static void untilClose(DataInputStream in, OutputStream out) throws IOException {
        for (Frames.Frame f; (f = Frames.Frame.read(in)) != null; ) {
            if (f.type == Frames.CLOSE) {
                new Frames.Builder(Frames.CLOSED, 8).str("").finish().writeFrame(out);
                out.flush();
                System.exit(0);
            }
        }
    }
}
