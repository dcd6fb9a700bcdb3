require ["vacation", "copy"];
vacation :addresses ["team@d.test"] :handle "h1" "Away.";
if header :contains "subject" "lunch" { redirect :copy "lunch@example.test"; }
