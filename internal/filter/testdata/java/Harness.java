import java.io.*;
import java.nio.charset.StandardCharsets;
import java.util.*;
import org.apache.rocketmq.filter.expression.*;
import org.apache.rocketmq.filter.parser.SelectorParser;

// The conformance harness for package filter: it runs selectors through Apache
// RocketMQ's own filter module (org.apache.rocketmq.filter.parser and
// .expression, from filter/src/main/java of apache/rocketmq) so the Go tests
// can compare. See java_test.go for how to build and run it.
//
// Reads lines: hex(expr) [TAB propset]*, propset = "" or hex(name)=hex(value)(,hex(name)=hex(value))*
// Writes: ERR or OK, then one of T F N X per propset, space separated: TRUE,
// FALSE, null, or an exception.
public class Harness {
  static String unhex(String h) {
    byte[] b = new byte[h.length() / 2];
    for (int i = 0; i < b.length; i++) b[i] = (byte) Integer.parseInt(h.substring(2 * i, 2 * i + 2), 16);
    return new String(b, StandardCharsets.UTF_8);
  }
  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    PrintWriter out = new PrintWriter(new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8)));
    String line;
    while ((line = in.readLine()) != null) {
      String[] f = line.split("\t", -1);
      String expr = unhex(f[0]);
      Expression e;
      try {
        e = SelectorParser.parse(expr);
      } catch (Throwable t) {
        out.println("ERR");
        continue;
      }
      StringBuilder sb = new StringBuilder("OK");
      for (int i = 1; i < f.length; i++) {
        final Map<String, String> props = new HashMap<>();
        if (!f[i].isEmpty()) for (String kv : f[i].split(",")) { String[] p = kv.split("=", -1); props.put(unhex(p[0]), unhex(p[1])); }
        EvaluationContext ctx = new EvaluationContext() {
          public Object get(String name) { return props.get(name); }
          public Map<String, Object> keyValues() { return null; }
        };
        String r;
        try {
          Object o = e.evaluate(ctx);
          r = o == null ? "N" : o == Boolean.TRUE ? "T" : o == Boolean.FALSE ? "F" : "?" + o.getClass();
        } catch (Throwable t) { r = "X"; }
        sb.append(' ').append(r);
      }
      out.println(sb);
    }
    out.flush();
  }
}
