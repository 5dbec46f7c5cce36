// Records how Java itself formats numbers, orders HashMaps and decodes UTF-8, for randomized
// inputs (fixed seed), as JSON lines that javabehaviour_test.go replays against our Go code.
// Developer tool (not run by CI); see gen.sh. Needs Java 19+ for the Double.toString algorithm.
import com.github.wnameless.json.base.JsonValueUtils;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.*;
import java.util.stream.Collectors;
import org.apache.avro.util.Utf8;

public class JavaBehaviour {
    static final StringBuilder out = new StringBuilder();
    static final Random rnd = new Random(20240611L);

    static String q(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20 || c > 0x7e) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) s.append(String.format("%02x", x & 0xff));
        return s.toString();
    }

    static double randomDouble() {
        switch (rnd.nextInt(6)) {
            case 0: { double d; do { d = Double.longBitsToDouble(rnd.nextLong()); } while (Double.isNaN(d)); return d; }
            case 1: return (rnd.nextInt(2000000) - 1000000) * Math.pow(10, rnd.nextInt(40) - 20);
            case 2: { double p = Math.pow(10, rnd.nextInt(40) - 20); return rnd.nextBoolean() ? Math.nextUp(p) : Math.nextDown(p); }
            case 3: return Double.MIN_VALUE * (1 + rnd.nextInt(1000));
            case 4: return rnd.nextInt() / 1000.0;
            default: return rnd.nextGaussian() * Math.pow(10, rnd.nextInt(10));
        }
    }

    static float randomFloat() {
        switch (rnd.nextInt(5)) {
            case 0: { float f; do { f = Float.intBitsToFloat(rnd.nextInt()); } while (Float.isNaN(f)); return f; }
            case 1: return (float) ((rnd.nextInt(200000) - 100000) * Math.pow(10, rnd.nextInt(20) - 10));
            case 2: return Float.MIN_VALUE * (1 + rnd.nextInt(1000));
            case 3: { float p = (float) Math.pow(10, rnd.nextInt(20) - 10); return rnd.nextBoolean() ? Math.nextUp(p) : Math.nextDown(p); }
            default: return (float) rnd.nextGaussian() * (float) Math.pow(10, rnd.nextInt(8));
        }
    }

    static String randomDecimal() {
        StringBuilder s = new StringBuilder();
        if (rnd.nextBoolean()) s.append('-');
        int n = 1 + rnd.nextInt(rnd.nextBoolean() ? 4 : 25);
        for (int i = 0; i < n; i++) s.append((char) ('0' + (rnd.nextInt(3) == 0 ? 0 : rnd.nextInt(10))));
        if (rnd.nextBoolean()) { int p = rnd.nextInt(s.length()); if (s.charAt(p) != '-') s.insert(p == 0 ? 1 : p, '.'); }
        if (s.charAt(s.length() - 1) == '.') s.append('5');
        if (rnd.nextInt(3) == 0) s.append('E').append(rnd.nextInt(60) - 30);
        return s.toString().replace("-.", "-0.").replaceAll("^\\.", "0.");
    }

    static String randomKey() {
        String[] alphabet = {"a", "b", "Aa", "BB", "é", "ü", "\uD83D\uDE00", "1", "-", ".", "k"};
        StringBuilder s = new StringBuilder();
        int n = rnd.nextInt(5);
        for (int i = 0; i < n; i++) s.append(alphabet[rnd.nextInt(alphabet.length)]);
        return s.toString();
    }

    static byte[] randomBytes() {
        byte[][] pieces = {{(byte) 0xe2, (byte) 0x82}, {(byte) 0xed, (byte) 0xa0, (byte) 0x80}, {(byte) 0xf0, (byte) 0x9f, (byte) 0x98},
                {(byte) 0xf0, (byte) 0x9f, (byte) 0x98, (byte) 0x80}, {(byte) 0xc3}, {(byte) 0xc3, (byte) 0xa9}, {(byte) 0xe0, (byte) 0x80},
                {(byte) 0xf4, (byte) 0x90}, {(byte) 0xff}, {(byte) 0x80}, {'A'}, {(byte) 0xc0, (byte) 0xaf}, {(byte) 0xef, (byte) 0xbf, (byte) 0xbf},
                {(byte) 0xf5}, {(byte) 0xed, (byte) 0x9f, (byte) 0xbf}, {(byte) 0xe0, (byte) 0xa0}, {(byte) 0xf0, (byte) 0x90, (byte) 0x80}};
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        int n = rnd.nextInt(6);
        for (int i = 0; i < n; i++) b.writeBytes(pieces[rnd.nextInt(pieces.length)]);
        return b.toByteArray();
    }

    public static void main(String[] args) throws Exception {
        for (int i = 0; i < 1500; i++) {
            double d = randomDouble();
            out.append("{\"k\":\"double\",\"bits\":\"").append(Long.toHexString(Double.doubleToRawLongBits(d)))
                    .append("\",\"s\":").append(q(Double.toString(d)));
            if (!Double.isInfinite(d)) out.append(",\"flat\":").append(q(JsonValueUtils.toJavaNumber(BigDecimal.valueOf(d)).toString()));
            out.append("}\n");
        }
        for (int i = 0; i < 1500; i++) {
            float f = randomFloat();
            out.append("{\"k\":\"float\",\"bits\":\"").append(Integer.toHexString(Float.floatToRawIntBits(f)))
                    .append("\",\"s\":").append(q(Float.toString(f)));
            if (!Float.isInfinite(f)) out.append(",\"flat\":").append(q(JsonValueUtils.toJavaNumber(BigDecimal.valueOf((double) f)).toString()));
            out.append("}\n");
        }
        for (int i = 0; i < 500; i++) {
            String t = randomDecimal();
            BigDecimal b = new BigDecimal(t);
            BigDecimal st = b.stripTrailingZeros();
            out.append("{\"k\":\"bigdec\",\"in\":").append(q(t)).append(",\"s\":").append(q(b.toString()))
                    .append(",\"strip\":").append(q(st.toString()))
                    .append(",\"flat\":").append(q(JsonValueUtils.toJavaNumber(st).toString())).append("}\n");
        }
        for (int i = 0; i < 300; i++) {
            int n = rnd.nextInt(4) == 0 ? rnd.nextInt(120) : rnd.nextInt(20);
            List<String> keys = new ArrayList<>();
            Set<String> seen = new HashSet<>();
            boolean collide = rnd.nextInt(4) == 0;
            while (keys.size() < n) {
                String k = randomKey();
                if (collide) { StringBuilder s = new StringBuilder(); for (int j = 0; j < 6; j++) s.append(rnd.nextBoolean() ? "Aa" : "BB"); k = s.toString() + (rnd.nextInt(3) == 0 ? randomKey() : ""); }
                if (seen.add(k)) keys.add(k);
            }
            int cap = rnd.nextInt(3) == 0 ? -1 : rnd.nextInt(Math.max(1, n + 1));
            String mode = new String[]{"put", "utf8", "props"}[rnd.nextInt(3)];
            List<String> order = new ArrayList<>();
            if (mode.equals("put")) {
                Map<String, Integer> m = cap < 0 ? new HashMap<>() : new HashMap<>(cap);
                keys.forEach(k -> m.put(k, 0));
                order.addAll(m.keySet());
            } else if (mode.equals("utf8")) {
                Map<Utf8, Integer> m = cap < 0 ? new HashMap<>() : new HashMap<>(cap);
                keys.forEach(k -> m.put(new Utf8(k), 0));
                m.keySet().forEach(k -> order.add(k.toString()));
            } else {
                Map<String, String> first = keys.stream().collect(Collectors.toMap(k -> k, k -> "v", (a, b) -> b));
                Map<String, String> second = new HashMap<>();
                first.forEach(second::put);
                order.addAll(second.keySet());
                cap = -1;
            }
            out.append("{\"k\":\"hashmap\",\"mode\":\"").append(mode).append("\",\"cap\":").append(cap).append(",\"keys\":[")
                    .append(keys.stream().map(JavaBehaviour::q).collect(Collectors.joining(","))).append("],\"order\":[")
                    .append(order.stream().map(JavaBehaviour::q).collect(Collectors.joining(","))).append("]}\n");
        }
        for (int i = 0; i < 1500; i++) {
            byte[] b = randomBytes();
            out.append("{\"k\":\"utf8\",\"in\":\"").append(hex(b)).append("\",\"out\":\"")
                    .append(hex(new String(b, StandardCharsets.UTF_8).getBytes(StandardCharsets.UTF_8))).append("\"}\n");
        }
        Files.write(Paths.get(args[0]), out.toString().getBytes(StandardCharsets.UTF_8));
    }
}
