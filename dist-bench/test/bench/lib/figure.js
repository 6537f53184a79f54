export const fmtInt = (n) => n.toLocaleString("en-US");
