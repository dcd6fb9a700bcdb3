require ["copy", "fileinto"];
if header :contains "subject" "patch" { redirect :copy "archive@example.test"; fileinto :copy "Copies"; }
if header :contains "from" "alice" { redirect "alice-fwd@elsewhere.test"; }
