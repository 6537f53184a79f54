// The CLI's first import: from here on, early signals are recorded (see early-signals.ts).
import { recordEarlySignals } from "./early-signals.js";

recordEarlySignals();
