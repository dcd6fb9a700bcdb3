require "fileinto";
if allof (header :contains "from" "a.test", anyof (header :contains "subject" "nothing", not header :contains "subject" "xyz")) {
  fileinto "nested-1";
}
if anyof (false, allof (true, not false), false) { fileinto "nested-2"; }
if allof (true, false) { fileinto "never"; }
