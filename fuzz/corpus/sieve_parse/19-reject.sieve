require "reject";
if header :contains "X-Spam-Status" "Yes" { reject "Your message looks like spam."; }
