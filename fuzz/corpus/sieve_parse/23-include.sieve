require ["include", "fileinto"];
include :personal "inc-lists";
if header :contains "subject" "meeting" { fileinto "after-include"; }
