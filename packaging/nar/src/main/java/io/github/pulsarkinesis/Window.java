package io.github.pulsarkinesis;

import java.util.concurrent.TimeUnit;

/**
 * Bounds what the sink holds unresolved (sent to the child, no ACK or FAIL
 * yet) by count and by bytes. Each unresolved record pins its payload in the
 * JVM through its Pulsar message until it is acked, and the child holds it
 * too, so a count alone lets large records take gigabytes on both sides.
 * One record larger than the whole window still goes, alone: refusing it
 * would stop the topic at it for ever.
 */
final class Window {
    private final int maxRecords;
    private final long maxBytes;
    private int records;
    private long bytes;
    private int peakRecords;
    private long peakBytes;
    private long largestAlone; // the largest record taken alone past maxBytes

    Window(int maxRecords, long maxBytes) {
        this.maxRecords = Math.max(maxRecords, 1);
        this.maxBytes = Math.max(maxBytes, 1);
    }

    /** Takes a place for a record of n bytes, waiting up to timeoutMs; false if it did not fit in time. */
    synchronized boolean tryAcquire(long n, long timeoutMs) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!fits(n)) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        records++;
        bytes += n;
        peakRecords = Math.max(peakRecords, records);
        peakBytes = Math.max(peakBytes, bytes);
        if (bytes > maxBytes) {
            largestAlone = Math.max(largestAlone, n);
        }
        return true;
    }

    private boolean fits(long n) {
        return records == 0 || records < maxRecords && bytes + n <= maxBytes;
    }

    synchronized void release(long n) {
        records--;
        bytes -= n;
        notifyAll();
    }

    int maxRecords() {
        return maxRecords;
    }

    long maxBytes() {
        return maxBytes;
    }

    private long reportedBytes = -1;
    private int reportedRecords = -1;

    /** describe() if a high-water mark rose since the last call, else null. */
    synchronized String describeIfRisen() {
        if (peakBytes == reportedBytes && peakRecords == reportedRecords) {
            return null;
        }
        reportedBytes = peakBytes;
        reportedRecords = peakRecords;
        return describe();
    }

    /** The high-water marks, for the instance's log (the end-to-end tests read it). */
    synchronized String describe() {
        return "peak " + peakRecords + " records, " + peakBytes + " bytes unresolved (bound " + maxRecords + " records, "
                + maxBytes + " bytes; largest record taken alone past it: " + largestAlone + " bytes)";
    }
}
