require ["fileinto", "imap4flags", "reject", "vacation", "mailbox", "envelope", "subaddress", "editheader"];
# t-77-sieve-delivery: one rule per subject word
if header :contains "subject" "[file]" { fileinto :create "Lists"; stop; }
if envelope :detail "to" "news" { fileinto :create "News"; stop; }
if header :contains "subject" "[edit]" {
  deleteheader "X-Spam-Status"; addheader "X-Filtered" "by alice"; fileinto :create "Edited"; stop;
}
if header :contains "subject" "[flag]" { addflag "\\Flagged"; addflag "urgent"; keep; stop; }
if header :contains "subject" "[drop]" { discard; stop; }
if header :contains "subject" "[nope]" { reject "no thanks, not here"; stop; }
if header :contains "subject" "[fwd]" { redirect "bob@bob.test"; stop; }
if header :contains "subject" "[missing]" { fileinto "NoSuchFolder"; stop; }
if header :contains "subject" "[err]" {
  redirect "r1@bob.test"; redirect "r2@bob.test"; redirect "r3@bob.test";
  redirect "r4@bob.test"; redirect "r5@bob.test"; redirect "r6@bob.test";
  stop;
}
if allof (header :contains "subject" "[spam]", exists "X-Spam-Status") {
  fileinto :create "Scored"; stop;
}
if header :contains "subject" "[away2]" {
  vacation :from "The Boss <ann@alice.test>" :handle "two" :subject "Other reply" "Not ann.";
}
if header :contains "subject" "[away]" {
  vacation :days 1 :subject "Out of office" "I am away until Monday.";
}
